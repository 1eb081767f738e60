from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SmsappConfig(AppConfig):
    name = "smsapp"
    verbose_name = "SMS / MMS"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from smsapp import checks  # noqa: F401 - registers the start-up checks
        from smsapp.roles import install_roles

        # After every migrate (and a test database flush): the groups get any permission
        # added to smsapp.roles.ROLES since.
        post_migrate.connect(install_roles, sender=self, dispatch_uid="smsapp.install_roles")
