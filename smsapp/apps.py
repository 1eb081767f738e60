from django.apps import AppConfig


class SmsappConfig(AppConfig):
    name = "smsapp"
    verbose_name = "SMS / MMS"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from smsapp import checks  # noqa: F401 - registers the webhook settings warnings
