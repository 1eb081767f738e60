"""Start-up warnings (Django system checks) for settings that leave the webhooks open or
shut. manage.py runs them (runserver, migrate, check); gunicorn does not, so the webhook
decorator also logs the same warning once per worker at its first webhook."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security)
def webhook_signature_settings(app_configs=None, **kwargs) -> list[Warning]:
    if not settings.TWILIO_VALIDATE_WEBHOOKS:
        return [
            Warning(
                "TWILIO_VALIDATE_WEBHOOKS is false: Twilio webhooks are accepted without "
                "checking their signature, so anyone can post fake messages and statuses.",
                hint="Set TWILIO_VALIDATE_WEBHOOKS=true (the default) and TWILIO_AUTH_TOKEN.",
                id="smsapp.W001",
            )
        ]
    warnings = []
    if not settings.TWILIO_AUTH_TOKEN:
        warnings.append(
            Warning(
                "TWILIO_AUTH_TOKEN is not set: every Twilio webhook (inbound messages, "
                "delivery statuses) will be refused with 403.",
                hint="Copy the account's Auth Token from the Twilio console into "
                "TWILIO_AUTH_TOKEN; API keys cannot check webhook signatures.",
                id="smsapp.W002",
            )
        )
    elif not settings.PUBLIC_BASE_URL:
        warnings.append(
            Warning(
                "PUBLIC_BASE_URL is not set: webhook signatures are checked against the "
                "address this server sees, which fails behind a TLS-terminating proxy.",
                hint="Set PUBLIC_BASE_URL to the https address Twilio calls, e.g. "
                "https://sms.example.org.",
                id="smsapp.W003",
            )
        )
    return warnings
