"""Start-up checks (Django system checks) for settings that leave the webhooks open or
shut, and for the usual mistakes of a production start. manage.py runs them (runserver,
migrate, work, check) and refuses to start on an Error; deploy/gunicorn.conf.py runs
`manage.py check` before gunicorn starts its workers. Other servers run none, so the
webhook decorator also logs its warnings once per process at its first webhook."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.checks import Error, Tags, Warning, register

# Its own tag, not Tags.staticfiles: collectstatic runs that tag's checks, and this one
# would stop the very command that fixes it.
PRODUCTION = "production"


@register(Tags.security)
def webhook_signature_settings(app_configs=None, **kwargs) -> list[Warning]:
    if not settings.TWILIO_VALIDATE_WEBHOOKS:
        # A local experiment may switch the check off; a production server never.
        level, check_id = (Warning, "smsapp.W001") if settings.DEBUG else (Error, "smsapp.E001")
        return [
            level(
                "TWILIO_VALIDATE_WEBHOOKS is false: Twilio webhooks are accepted without "
                "checking their signature, so anyone can post fake messages and statuses.",
                hint="Set TWILIO_VALIDATE_WEBHOOKS=true (the default) and TWILIO_AUTH_TOKEN.",
                id=check_id,
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
    elif not settings.PUBLIC_BASE_URL and settings.DEBUG:  # outside DEBUG: smsapp.E002
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


@register(Tags.security)
def public_address_is_https(app_configs=None, **kwargs) -> list[Error]:
    if settings.DEBUG or settings.PUBLIC_BASE_URL.startswith("https://"):
        return []
    got = f"is {settings.PUBLIC_BASE_URL}" if settings.PUBLIC_BASE_URL else "is not set"
    return [
        Error(
            f"PUBLIC_BASE_URL {got} while DEBUG is false: Twilio and Canvas must reach a "
            "production server over https, and webhook signatures are checked against "
            "this address.",
            hint="Set PUBLIC_BASE_URL to the https address the proxy serves, e.g. "
            "https://sms.example.org (or DEBUG=true on a developer's machine).",
            id="smsapp.E002",
        )
    ]


@register(PRODUCTION)
def static_files_collected(app_configs=None, **kwargs) -> list[Error]:
    """Without DEBUG, every page and the admin name their static files by the hashed
    names in collectstatic's manifest, and answer 500 for a file missing from it."""
    if settings.DEBUG or not isinstance(staticfiles_storage, ManifestFilesMixin):
        return []
    hint = "Run manage.py collectstatic --no-input (on every deploy, before the server starts)."
    manifest = staticfiles_storage.load_manifest()[0]
    if not manifest:
        return [
            Error(
                f"The static files were not collected (no {staticfiles_storage.manifest_name} "
                f"in STATIC_ROOT, {settings.STATIC_ROOT}), so every page would answer 500 "
                '("Missing staticfiles manifest entry"): run manage.py collectstatic.',
                hint=hint,
                id="smsapp.E003",
            )
        ]
    missing = sorted(
        path
        for finder in finders.get_finders()
        for path, _storage in finder.list(apps.get_app_config("staticfiles").ignore_patterns)
        if staticfiles_storage.clean_name(path) not in manifest
    )
    if missing:
        return [
            Error(
                f"{len(missing)} static file(s) are newer than the last collectstatic (such "
                f"as {missing[0]}); pages using them would answer 500: run manage.py "
                "collectstatic again.",
                hint=hint,
                id="smsapp.E003",
            )
        ]
    return []
