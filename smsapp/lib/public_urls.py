"""This app's own public addresses: the prefix of its JSON API and webhooks, and the webhook
URLs it gives Twilio."""

from __future__ import annotations

from django.conf import settings

# The original Canvas plugin's public path: the JSON API and the Twilio webhooks live under
# it, so a proxy or the plugin can forward paths unchanged.
API_PREFIX = "plugin-io/api/twilio_sms_mms/"


def own_url(route: str) -> str:
    """Our public address for one of the API's routes, or "" when PUBLIC_BASE_URL is not
    set (Twilio cannot reach a server that does not know its own address)."""
    base = settings.PUBLIC_BASE_URL
    return f"{base}/{API_PREFIX}{route}" if base else ""


def inbound_webhook_url() -> str:
    return own_url("inbound_treatment")


def status_callback_url() -> str:
    return own_url("outbound_api_status")
