from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_migrate


class SmsappConfig(AppConfig):
    name = "smsapp"
    verbose_name = "SMS / MMS"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from smsapp import checks  # noqa: F401 - registers the start-up checks
        from smsapp.roles import install_roles
        from smsapp.services import audit

        # After every migrate (and a test database flush): the groups get any permission
        # added to smsapp.roles.ROLES since.
        post_migrate.connect(install_roles, sender=self, dispatch_uid="smsapp.install_roles")
        # Every sign-in and sign-out, the page's and the admin's, in the audit trail.
        user_logged_in.connect(audit.signed_in, dispatch_uid="smsapp.audit.signed_in")
        user_logged_out.connect(audit.signed_out, dispatch_uid="smsapp.audit.signed_out")
        user_login_failed.connect(audit.sign_in_failed, dispatch_uid="smsapp.audit.failed")
