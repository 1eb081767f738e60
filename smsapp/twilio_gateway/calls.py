"""How one call to Twilio is made: retried when that is safe, and every failure turned into
a `TwilioError` carrying a sentence a person can act on, the HTTP status our API answers
with, and whether trying again later may help."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.response import Response as TwilioResponse
from urllib3.exceptions import NewConnectionError

logger = logging.getLogger(__name__)

T = TypeVar("T")

NOT_CONFIGURED = (
    "Twilio is not configured: set TWILIO_ACCOUNT_SID, TWILIO_API_KEY and TWILIO_API_SECRET "
    "(and TWILIO_AUTH_TOKEN to accept webhooks)."
)


class TwilioError(Exception):
    """A Twilio call failed. `message` is one sentence for a person; `http_status` is what
    our API answers with; `field` names the input at fault, when there is one.

    `outcome_unknown` is set on a call that is not safe to repeat (a send) when the request
    may have reached Twilio and been acted on (see call()): the caller must find out what
    Twilio did instead of trying again."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int = 502,
        transient: bool = False,
        code: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.transient = transient
        self.code = code
        self.field = field
        self.outcome_unknown = False


class TwilioNotConfigured(TwilioError):
    def __init__(self) -> None:
        super().__init__(NOT_CONFIGURED, http_status=503)


# Twilio error code -> (sentence, our HTTP status, field at fault)
_KNOWN_ERRORS: dict[int, tuple[str, int, str | None]] = {
    20003: (
        "Twilio credentials were refused: check TWILIO_ACCOUNT_SID, TWILIO_API_KEY and "
        "TWILIO_API_SECRET.",
        503,
        None,
    ),
    20009: (
        "Twilio cannot delete this message yet because it is still being processed; "
        "wait a few minutes and try again.",
        409,
        None,
    ),
    20404: ("Twilio has no such record: it may have been deleted.", 404, None),
    21211: (
        "The To number is not a valid phone number; use E.164 such as +15551234567.",
        400,
        "numberTo",
    ),
    21606: (
        "The From number cannot send this kind of message; choose a number with SMS "
        "(or MMS, for media) capability.",
        400,
        "numberFrom",
    ),
    21608: (
        "This Twilio trial account can only text verified numbers; verify the recipient "
        "in the Twilio console or upgrade the account.",
        400,
        "numberTo",
    ),
    21610: (
        "The recipient has opted out of texts from this number (they replied STOP); they "
        "must text START before you can message them again.",
        400,
        "numberTo",
    ),
}


def _rest_error(status: int | None, code: int | None, msg: str | None) -> TwilioError:
    """Twilio answered with an error: its code first, then the HTTP status."""
    status = status or 0
    if code in _KNOWN_ERRORS:
        sentence, http_status, field = _KNOWN_ERRORS[code]
        return TwilioError(sentence, http_status=http_status, code=code, field=field)
    if status == 401:
        sentence, http_status, _ = _KNOWN_ERRORS[20003]
        return TwilioError(sentence, http_status=http_status, code=code)
    if status == 404:
        sentence, http_status, _ = _KNOWN_ERRORS[20404]
        return TwilioError(sentence, http_status=http_status, code=code)
    if code == 20429 or status == 429:
        return TwilioError(
            "Twilio is limiting how fast we may call it; try again in a minute.",
            http_status=503,
            transient=True,
            code=code,
        )
    if status >= 500:
        return TwilioError(
            f"Twilio is having trouble (HTTP {status}); try again shortly.",
            http_status=503,
            transient=True,
            code=code,
        )
    # The SDK prefixes Twilio's own sentence with "Unable to create record: " and the like.
    detail = (msg or "").split(": ", 1)[-1] if (msg or "").startswith("Unable to") else msg
    detail = (detail or "no reason given").rstrip(".")
    suffix = f" (Twilio error {code})" if code and code != status else ""
    return TwilioError(f"Twilio refused the request: {detail}{suffix}.", code=code)


def as_int(value: Any, default: int | None = 0) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _page_error(response: TwilioResponse) -> TwilioError:
    """The SDK's Page raises a bare TwilioException("Unable to fetch page", response) for
    any non-200 answer to a list call (first page or next_page_uri), without parsing
    Twilio's error body: read the code and message ourselves so a 503 is retried and a
    401 says which settings to check."""
    try:
        payload = json.loads(response.text)
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    code = as_int(payload.get("code"), 0) or response.status_code
    return _rest_error(response.status_code, code, payload.get("message"))


def _network_error(exc: requests.RequestException) -> TwilioError:
    if isinstance(exc, requests.Timeout):
        sentence = f"Twilio did not answer within {settings.TWILIO_TIMEOUT:g} seconds; try again."
    else:
        sentence = "Could not reach Twilio; check this server's internet connection and retry."
    return TwilioError(sentence, http_status=503, transient=True)


def _translate(exc: Exception) -> TwilioError:
    if isinstance(exc, TwilioError):
        return exc
    if isinstance(exc, TwilioRestException):
        return _rest_error(exc.status, exc.code, exc.msg)
    if isinstance(exc, TwilioServiceException):  # Twilio's newer RFC 9457 error bodies
        return _rest_error(exc.status, exc.code, exc.detail or exc.title)
    page_response = exc.args[1] if len(exc.args) > 1 else None
    if isinstance(page_response, TwilioResponse):
        return _page_error(page_response)
    if isinstance(exc, requests.RequestException):
        return _network_error(exc)
    return TwilioError(f"Twilio sent an answer we could not read ({exc}).")


def call(fn: Callable[[], T], *, safe_to_repeat: bool = True) -> T:
    """Run one Twilio call, retrying transient failures with exponential backoff.

    A create that timed out may have reached Twilio, so `safe_to_repeat=False` retries
    only failures where Twilio certainly did nothing (rate limited, connection refused):
    a patient must never get the same text twice. When such a call fails after the request
    may have reached Twilio, the error says so (`outcome_unknown`).
    """
    attempt = 0
    while True:
        try:
            return fn()
        except (TwilioException, requests.RequestException, ValueError) as exc:
            # ValueError: a 200 whose body is not JSON (a proxy's HTML page, say).
            error = _translate(exc)
            retry = error.transient and (safe_to_repeat or _certainly_not_done(exc))
            if not retry or attempt >= settings.TWILIO_MAX_RETRIES:
                error.outcome_unknown = not safe_to_repeat and _may_have_been_done(exc)
                raise error from exc
            delay = settings.TWILIO_RETRY_BACKOFF * (2**attempt)
            attempt += 1
            logger.warning("Twilio call failed (%s); retry %d in %.1fs", error, attempt, delay)
            time.sleep(delay)


def _certainly_not_done(exc: Exception) -> bool:
    """Twilio refused before doing anything: rate limited, or no connection was made."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        return exc.status == 429
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def _may_have_been_done(exc: Exception) -> bool:
    """The request may have reached Twilio and been acted on: no answer came back (a read
    timeout, the connection lost after sending), Twilio failed midway (5xx), or its answer
    could not be read."""
    if _certainly_not_done(exc):
        return False
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        return (exc.status or 0) >= 500
    return isinstance(exc, requests.RequestException | ValueError)
