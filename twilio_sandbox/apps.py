from django.apps import AppConfig


class TwilioSandboxConfig(AppConfig):
    name = "twilio_sandbox"
    verbose_name = "Twilio sandbox (offline stand-in)"
    default_auto_field = "django.db.models.BigAutoField"
