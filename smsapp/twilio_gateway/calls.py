"""How one call to Twilio is made: retried when that is safe, within a deadline, behind a
circuit breaker, and every failure turned into a `TwilioError` carrying a sentence a
person can act on, the HTTP status our API answers with, and whether trying again later
may help.

A Twilio that hangs must not hang the app with it: each call (retries included) ends
within TWILIO_DEADLINE seconds, and after BREAKER_TIMEOUTS timeouts in a row the breaker
opens, so calls fail at once with a 503 sentence for BREAKER_OPEN_SECONDS instead of
each holding a server thread while it waits.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.response import Response as TwilioResponse
from urllib3.exceptions import NewConnectionError, ReadTimeoutError

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
    if _is_timeout(exc):
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
    """Run one Twilio call, retrying transient failures with exponential backoff, all of
    it within TWILIO_DEADLINE seconds (each attempt's timeout is cut to the time left).

    A create that timed out may have reached Twilio, so `safe_to_repeat=False` retries
    only failures where Twilio certainly did nothing (rate limited, connection refused):
    a patient must never get the same text twice. When such a call fails after the request
    may have reached Twilio, the error says so (`outcome_unknown`).
    """
    deadline = time.monotonic() + settings.TWILIO_DEADLINE
    outer, _local.deadline = getattr(_local, "deadline", None), deadline
    try:
        return _attempts(fn, safe_to_repeat=safe_to_repeat, deadline=deadline)
    finally:
        _local.deadline = outer


def _attempts(fn: Callable[[], T], *, safe_to_repeat: bool, deadline: float) -> T:
    attempt = 0
    while True:
        breaker.before_call()
        try:
            result = fn()
        except BaseException as exc:
            breaker.after_call(timed_out=_is_timeout(exc))
            # ValueError: a 200 whose body is not JSON (a proxy's HTML page, say).
            if not isinstance(exc, TwilioException | requests.RequestException | ValueError):
                raise
            error = _translate(exc)
            retry = error.transient and (safe_to_repeat or _certainly_not_done(exc))
            delay = settings.TWILIO_RETRY_BACKOFF * (2**attempt)
            # A retry needs time for its own attempt too, not only for the pause before it.
            too_late = time.monotonic() + delay + MIN_ATTEMPT_SECONDS > deadline
            if not retry or attempt >= settings.TWILIO_MAX_RETRIES or too_late:
                error.outcome_unknown = not safe_to_repeat and _may_have_been_done(exc)
                raise error from exc
            attempt += 1
            logger.warning("Twilio call failed (%s); retry %d in %.1fs", error, attempt, delay)
            time.sleep(delay)
        else:
            breaker.after_call(timed_out=False)
            return result


# --- the deadline and the circuit breaker ------------------------------------------------

# The shortest attempt worth starting: below this, a retry would time out before Twilio
# could answer, so the call gives up instead.
MIN_ATTEMPT_SECONDS = 0.5

_local = threading.local()  # the deadline of the call running in this thread


def attempt_timeout(timeout: float) -> float:
    """The socket timeout for one HTTP request to Twilio: `timeout` (TWILIO_TIMEOUT), cut
    to what is left of the running call's deadline. The REST client and the media download
    ask for it on every request."""
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    return max(0.05, min(timeout, deadline - time.monotonic()))


def _is_timeout(exc: Exception) -> bool:
    """Twilio did not answer in time: while connecting or reading the answer, or while
    reading a streamed body (which requests reports as a ConnectionError)."""
    if isinstance(exc, requests.Timeout):
        return True
    reason = exc.args[0] if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, ReadTimeoutError)


BREAKER_TIMEOUTS = 3  # timeouts in a row that open the breaker
BREAKER_OPEN_SECONDS = 30.0

BREAKER_OPEN = (
    "Twilio has not been answering, so this app stops waiting for it for "
    f"{BREAKER_OPEN_SECONDS:g} seconds; try again in a minute."
)


class CircuitBreaker:
    """Stops calling a Twilio that keeps timing out.

    After BREAKER_TIMEOUTS timeouts in a row, every call fails at once with a 503 for
    BREAKER_OPEN_SECONDS. Then one call is let through as a trial (the others still fail
    at once): if Twilio answers it, with anything at all, calls flow again; if it times
    out too, the breaker opens for another period.

    The state is per process (each gunicorn worker or task worker learns on its own, after
    at most BREAKER_TIMEOUTS timeouts) and shared by its threads, under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.timeouts = 0
        self.open_until = 0.0
        self.trial_running = False

    def before_call(self) -> None:
        with self._lock:
            if self.timeouts < BREAKER_TIMEOUTS:
                return
            if time.monotonic() >= self.open_until and not self.trial_running:
                self.trial_running = True
                return
        raise TwilioError(BREAKER_OPEN, http_status=503, transient=True)

    def after_call(self, *, timed_out: bool) -> None:
        """Record how an attempt ended: a timeout, or any answer from Twilio."""
        with self._lock:
            self.trial_running = False
            if not timed_out:
                self.timeouts = 0
                return
            self.timeouts += 1
            if self.timeouts >= BREAKER_TIMEOUTS:
                self.open_until = time.monotonic() + BREAKER_OPEN_SECONDS
                logger.warning(
                    "Twilio timed out %d times in a row; calls fail at once for %gs",
                    self.timeouts,
                    BREAKER_OPEN_SECONDS,
                )


breaker = CircuitBreaker()


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
