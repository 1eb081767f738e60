"""The REST client for the configured account, and the transport that sends its requests to
the offline sandbox instead of api.twilio.com when no account is configured.

In sandbox mode the same client and the same code paths run; only the transport changes,
through the SDK's own extension point (a custom HttpClient) and a requests adapter for
media downloads, both sending api.twilio.com's requests to the local stand-in (the
twilio_sandbox app)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client

from smsapp.twilio_gateway.calls import TwilioNotConfigured, attempt_timeout
from smsapp.twilio_gateway.constants import API_BASE


def is_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and credentials()[1])


def credentials() -> tuple[str, str]:
    """API key and secret when set; the Auth Token otherwise (handy on a developer's own
    account). Twilio recommends API keys: they can be revoked one by one."""
    if settings.TWILIO_API_KEY and settings.TWILIO_API_SECRET:
        return settings.TWILIO_API_KEY, settings.TWILIO_API_SECRET
    if settings.TWILIO_AUTH_TOKEN:
        return settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
    return "", ""


def client() -> Client:
    """The REST client for the configured account. Cached per credentials, so it reuses
    one HTTP connection pool, and settings changed in tests take effect."""
    username, password = credentials()
    if not (settings.TWILIO_ACCOUNT_SID and username and password):
        raise TwilioNotConfigured()
    return _client(
        settings.TWILIO_ACCOUNT_SID, username, password, settings.TWILIO_TIMEOUT, _sandbox_url()
    )


@lru_cache(maxsize=4)
def _client(
    account_sid: str, username: str, password: str, timeout: float, sandbox_url: str = ""
) -> Client:
    http_client = (
        SandboxHttpClient(sandbox_url, timeout=timeout)
        if sandbox_url
        else DeadlineHttpClient(timeout=timeout)
    )
    return Client(username, password, account_sid=account_sid, http_client=http_client)


def media_session() -> requests.Session:
    """The requests session media downloads go through (the REST client has none)."""
    return _session_for(_sandbox_url())


@lru_cache(maxsize=2)
def _session_for(sandbox_url: str) -> requests.Session:
    session = requests.Session()
    session.max_redirects = 5
    if sandbox_url:
        session.mount(API_BASE, _SandboxAdapter(sandbox_url))
    return session


class DeadlineHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, with each request's timeout cut to what is left of the
    running call's deadline (smsapp.twilio_gateway.calls.call)."""

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> TwilioResponse:
        timeout = attempt_timeout(self.timeout if timeout is None else timeout)
        return super().request(*args, timeout=timeout, **kwargs)


# --- offline sandbox ------------------------------------------------------------------------


def _sandbox_url() -> str:
    return settings.SANDBOX_BASE_URL if settings.TWILIO_SANDBOX else ""


def _to_sandbox(url: str, sandbox_url: str) -> str:
    if url.startswith(API_BASE):
        return f"{sandbox_url}/sandbox/twilio{url[len(API_BASE) :]}"
    return url


class SandboxHttpClient(DeadlineHttpClient):
    """The SDK's HTTP client, talking to the local stand-in instead of api.twilio.com."""

    def __init__(self, sandbox_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sandbox_url = sandbox_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        return super().request(method, _to_sandbox(url, self.sandbox_url), *args, **kwargs)


class _SandboxAdapter(HTTPAdapter):
    def __init__(self, sandbox_url: str) -> None:
        super().__init__()
        self.sandbox_url = sandbox_url.rstrip("/")

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any):
        request.url = _to_sandbox(request.url, self.sandbox_url)
        return super().send(request, *args, **kwargs)
