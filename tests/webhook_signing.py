"""Sign test requests as Twilio does: the SDK's RequestValidator.compute_signature over the
public URL Twilio called and every POST parameter (tests/settings.py: PUBLIC_BASE_URL)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.test import Client
from twilio.request_validator import RequestValidator

FORM = "application/x-www-form-urlencoded"


def signature(url: str, params: dict | list | None = None, token: str | None = None) -> str:
    """What Twilio puts in X-Twilio-Signature. `params` may be a list of pairs, for a
    parameter Twilio repeats."""
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN if token is None else token)
    return validator.compute_signature(url, _multi(params or {}))


def _multi(params: dict | list) -> dict[str, list[str]]:
    pairs = params.items() if isinstance(params, dict) else params
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(str(value))
    return _MultiDict(grouped)


class _MultiDict(dict):
    """Enough of a MultiDict for compute_signature (it calls getlist, as with Django)."""

    def getlist(self, key: str) -> list[str]:
        return self[key]


def post_signed(client: Client, path: str, params: dict | list, **extra):
    """POST form-encoded `params` to `path`, signed for PUBLIC_BASE_URL + path."""
    sig = signature(settings.PUBLIC_BASE_URL + path, params)
    return client.post(
        path, urlencode(params, doseq=True), content_type=FORM, HTTP_X_TWILIO_SIGNATURE=sig, **extra
    )


def get_signed(client: Client, path: str, params: dict, **extra):
    """GET `path` with `params` in the query string; Twilio signs the URL alone."""
    full = f"{path}?{urlencode(params)}"
    sig = signature(settings.PUBLIC_BASE_URL + full)
    return client.get(full, HTTP_X_TWILIO_SIGNATURE=sig, **extra)
