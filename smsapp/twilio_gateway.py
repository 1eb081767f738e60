"""The one place that talks to Twilio. Nothing else in the project imports `twilio`.

Every function returns plain dicts keyed like our models, and every failure becomes a
`TwilioError` carrying a sentence a person can act on, the HTTP status our API should
answer with, and whether trying again later may help. Transient failures are retried a
bounded number of times with exponential backoff.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, TypeVar

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.request_validator import compare as compare_signatures
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from urllib3.exceptions import NewConnectionError

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_PAGE_SIZE = 1000  # Twilio's own limit for list endpoints
MAX_MEDIA_URLS = 10  # Twilio's limit per message

NOT_CONFIGURED = (
    "Twilio is not configured: set TWILIO_ACCOUNT_SID, TWILIO_API_KEY and TWILIO_API_SECRET "
    "(and TWILIO_AUTH_TOKEN to accept webhooks)."
)


class TwilioError(Exception):
    """A Twilio call failed. `message` is one sentence for a person; `http_status` is what
    our API answers with; `field` names the input at fault, when there is one."""

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
    code = _int(payload.get("code"), 0) or response.status_code
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


def _call(fn: Callable[[], T], *, safe_to_repeat: bool = True) -> T:
    """Run one Twilio call, retrying transient failures with exponential backoff.

    A create that timed out may have reached Twilio, so `safe_to_repeat=False` retries
    only failures where Twilio certainly did nothing (rate limited, connection refused):
    a patient must never get the same text twice.
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


# --- client ------------------------------------------------------------------------------


def is_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and _credentials()[1])


def _credentials() -> tuple[str, str]:
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
    username, password = _credentials()
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
        else TwilioHttpClient(timeout=timeout)
    )
    return Client(username, password, account_sid=account_sid, http_client=http_client)


# --- plain records ------------------------------------------------------------------------


def _phone_record(p: Any) -> dict[str, Any]:
    caps = p.capabilities or {}
    return {
        "sid": p.sid,
        "phone_number": p.phone_number or "",
        "friendly_name": p.friendly_name or "",
        "sms": bool(caps.get("sms")),
        "mms": bool(caps.get("mms")),
        "voice": bool(caps.get("voice")),
        "fax": bool(caps.get("fax")),
        "status": p.status or "",
        "sms_url": p.sms_url or "",
        "sms_method": (p.sms_method or "POST").upper(),
        "status_callback": p.status_callback or "",
    }


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _error_code(value: Any) -> int | None:
    """Twilio's error code as a number; the SDK passes through anything it cannot parse,
    which would fail the integer column."""
    return None if value is None else _int(value, None)


def _message_record(m: Any) -> dict[str, Any]:
    """A Twilio message as the fields of our Message model."""
    return {
        "sid": m.sid,
        "account_sid": m.account_sid or "",
        "messaging_service_sid": m.messaging_service_sid or "",
        "direction": m.direction or "",
        "from_number": m.from_ or "",
        "to_number": m.to or "",
        "body": m.body or "",
        "status": m.status or "",
        "error_code": _error_code(m.error_code),
        "error_message": m.error_message or "",
        "num_media": _int(m.num_media),
        "num_segments": _int(m.num_segments, 1),
        "price": m.price or "",
        "price_unit": m.price_unit or "",
        "date_created": m.date_created,
        "date_sent": m.date_sent,
        "date_updated": m.date_updated,
    }


_MONTHS = {
    name: number
    for number, name in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}


def _twilio_time(value: str | None) -> datetime | None:
    """Twilio's RFC 2822 time ('Thu, 30 Jul 2015 20:12:31 +0000', always UTC) as an aware
    datetime. The SDK's email.utils parser costs several times more, and a sync runs this
    three times per message."""
    if not value:
        return None
    try:
        _, day, month, year, clock, _ = value.split(" ")
        hour, minute, second = clock.split(":")
        return datetime(
            int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
    except (ValueError, KeyError):
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return datetime.fromtimestamp(email.utils.mktime_tz(parsed), tz=UTC)


def _message_json_record(m: dict[str, Any]) -> dict[str, Any]:
    """The same record as _message_record, straight from a message's JSON in a list page:
    building the SDK's MessageInstance first was a third of a sync's time."""
    return {
        "sid": m["sid"],
        "account_sid": m.get("account_sid") or "",
        "messaging_service_sid": m.get("messaging_service_sid") or "",
        "direction": m.get("direction") or "",
        "from_number": m.get("from") or "",
        "to_number": m.get("to") or "",
        "body": m.get("body") or "",
        "status": m.get("status") or "",
        "error_code": _error_code(m.get("error_code")),
        "error_message": m.get("error_message") or "",
        "num_media": _int(m.get("num_media")),
        "num_segments": _int(m.get("num_segments"), 1),
        "price": m.get("price") or "",
        "price_unit": m.get("price_unit") or "",
        "date_created": _twilio_time(m.get("date_created")),
        "date_sent": _twilio_time(m.get("date_sent")),
        "date_updated": _twilio_time(m.get("date_updated")),
    }


def _page_records(page: Any) -> list[dict[str, Any]]:
    """A list page's messages as records. Reads the page's parsed JSON (the SDK keeps it in
    `_payload`, unchanged since twilio 6); falls back to the SDK's instances if that
    ever moves."""
    payload = getattr(page, "_payload", None)
    if isinstance(payload, dict) and isinstance(payload.get("messages"), list):
        return [_message_json_record(m) for m in payload["messages"]]
    return [_message_record(m) for m in page]


def _media_record(m: Any) -> dict[str, Any]:
    return {
        "sid": m.sid,
        "content_type": m.content_type or "",
        "uri": m.uri or "",
        "date_created": m.date_created,
    }


# --- phone numbers ------------------------------------------------------------------------


def list_phone_numbers() -> Iterator[dict[str, Any]]:
    """Every IncomingPhoneNumber of the account, page by page."""
    page = _call(lambda: client().incoming_phone_numbers.page(page_size=MAX_PAGE_SIZE))
    while page is not None:
        yield from (_phone_record(p) for p in page)
        page = _call(page.next_page)


def update_sms_webhook(phone_sid: str, *, url: str, method: str) -> dict[str, Any]:
    """Point a number's inbound SMS webhook at `url`, called with `method` (GET or POST)."""
    phone = _call(
        lambda: client().incoming_phone_numbers(phone_sid).update(sms_url=url, sms_method=method)
    )
    return _phone_record(phone)


# --- messages ------------------------------------------------------------------------------


def iter_message_pages(
    *,
    to: str | None = None,
    from_: str | None = None,
    date_sent_after: date | datetime | None = None,
    date_sent_before: date | datetime | None = None,
    page_size: int = MAX_PAGE_SIZE,
) -> Iterator[list[dict[str, Any]]]:
    """Messages matching the filters, one page (a list of records) at a time, newest
    first, following Twilio's next_page_uri. Only one page is held in memory."""
    filters: dict[str, Any] = {"page_size": min(max(page_size, 1), MAX_PAGE_SIZE)}
    if to:
        filters["to"] = to
    if from_:
        filters["from_"] = from_
    if date_sent_after:
        filters["date_sent_after"] = date_sent_after
    if date_sent_before:
        filters["date_sent_before"] = date_sent_before
    page = _call(lambda: client().messages.page(**filters))
    while page is not None:
        yield _page_records(page)
        page = _call(page.next_page)


def fetch_message(message_sid: str) -> dict[str, Any]:
    return _message_record(_call(lambda: client().messages(message_sid).fetch()))


def send_message(
    *,
    from_: str,
    to: str,
    body: str = "",
    media_urls: list[str] | tuple[str, ...] = (),
    status_callback: str | None = None,
) -> dict[str, Any]:
    """Send an SMS, or an MMS when `media_urls` (at most 10) are given."""
    if len(media_urls) > MAX_MEDIA_URLS:
        raise TwilioError(
            f"A message can carry at most {MAX_MEDIA_URLS} media URLs (got {len(media_urls)}).",
            http_status=400,
            field="mediaUrls",
        )
    kwargs: dict[str, Any] = {"from_": from_, "to": to}
    if body:
        kwargs["body"] = body
    if media_urls:
        kwargs["media_url"] = list(media_urls)
    if status_callback:
        kwargs["status_callback"] = status_callback
    message = _call(lambda: client().messages.create(**kwargs), safe_to_repeat=False)
    return _message_record(message)


def delete_message(message_sid: str) -> None:
    _call(lambda: client().messages(message_sid).delete())


# --- media ----------------------------------------------------------------------------------


def list_media(message_sid: str) -> list[dict[str, Any]]:
    items = _call(lambda: client().messages(message_sid).media.list(page_size=MAX_PAGE_SIZE))
    return [_media_record(m) for m in items]


def media_content_url(message_sid: str, media_sid: str) -> str:
    """The address of a media item's bytes (the Media resource URI without `.json`)."""
    return (
        f"https://api.twilio.com/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}"
        f"/Messages/{message_sid}/Media/{media_sid}"
    )


def download_media(message_sid: str, media_sid: str) -> tuple[bytes, str]:
    """The bytes and content type of one media item, at most TWILIO_MEDIA_MAX_BYTES.

    Twilio answers with a redirect to a short-lived CDN address; the first request carries
    our credentials, the redirect is followed (requests drops the credentials when the
    host changes, which is what we want: the CDN URL is pre-signed).
    """
    client()  # raises TwilioNotConfigured before any network call
    url = media_content_url(message_sid, media_sid)
    limit = settings.TWILIO_MEDIA_MAX_BYTES

    def fetch() -> tuple[bytes, str]:
        with _media_session().get(
            url, auth=_credentials(), timeout=settings.TWILIO_TIMEOUT, stream=True
        ) as response:
            if response.status_code >= 400:
                raise TwilioRestException(response.status_code, url, "media download failed")
            declared = _int(response.headers.get("Content-Length"), 0)
            if declared > limit:
                raise _too_large(limit)
            chunks, size = [], 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
            content_type = response.headers.get("Content-Type", "application/octet-stream")
            return b"".join(chunks), content_type.split(";")[0].strip()

    return _call(fetch)


def _too_large(limit: int) -> TwilioError:
    return TwilioError(
        f"This media item is larger than {limit / (1024 * 1024):g} MB and was not downloaded.",
        http_status=502,
    )


def _media_session() -> requests.Session:
    return _session_for(_sandbox_url())


@lru_cache(maxsize=2)
def _session_for(sandbox_url: str) -> requests.Session:
    session = requests.Session()
    session.max_redirects = 5
    if sandbox_url:
        session.mount(TWILIO_API_HOST, _SandboxAdapter(sandbox_url))
    return session


# --- webhooks -------------------------------------------------------------------------------


def signature_is_valid(url: str, params: Any, signature: str) -> bool:
    """Whether `signature` (X-Twilio-Signature) is Twilio's for a request to `url` with
    `params` (the POST parameters; a QueryDict keeps repeated keys, as Twilio signs
    them). Always False without an Auth Token: an empty key would accept anyone's HMAC."""
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    validator = RequestValidator(token)
    # validate() also tries the URL with and without the default port (Twilio is not
    # consistent there), two HMACs per request; the URL as given matches almost always.
    if compare_signatures(validator.compute_signature(url, params), signature):
        return True
    return validator.validate(url, params, signature)


def twiml_reply(text: str, media_url: str = "", status_callback: str = "") -> str:
    """TwiML that answers an inbound message with `text` (and an image, for MMS). Body and
    Media as nested nouns: Twilio's documented form for a message that carries both.
    `status_callback` becomes the <Message> verb's `action`: where Twilio reports the
    reply's delivery status, so the mirror follows auto-replies as it follows sends."""
    response = MessagingResponse()
    message = (
        response.message(action=status_callback, method="POST")
        if status_callback
        else response.message()
    )
    message.body(text)
    if media_url:
        message.media(media_url)
    return str(response)


def empty_twiml() -> str:
    """TwiML that sends nothing back: `<Response />`."""
    return str(MessagingResponse())


def sign_webhook(url: str, params: dict[str, str], auth_token: str) -> str:
    """X-Twilio-Signature for a request to `url` with `params`, as Twilio computes it (the
    offline sandbox signs its callbacks with this)."""
    return RequestValidator(auth_token).compute_signature(url, params)


# --- offline sandbox ------------------------------------------------------------------------
# In sandbox mode the same client and the same code paths run; only the transport changes,
# through the SDK's own extension point (a custom HttpClient) and a requests adapter for
# media downloads, both sending api.twilio.com's requests to the local stand-in
# (the twilio_sandbox app).

TWILIO_API_HOST = "https://api.twilio.com"


def _sandbox_url() -> str:
    return settings.SANDBOX_BASE_URL if settings.TWILIO_SANDBOX else ""


def _to_sandbox(url: str, sandbox_url: str) -> str:
    if url.startswith(TWILIO_API_HOST):
        return f"{sandbox_url}/sandbox/twilio{url[len(TWILIO_API_HOST) :]}"
    return url


class SandboxHttpClient(TwilioHttpClient):
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
