"""Twilio's webhooks: delivery status callbacks and inbound messages.

Both are signed by Twilio (X-Twilio-Signature, an HMAC of the URL it called and every
parameter, keyed with the account's Auth Token) and checked by @twilio_signed before
anything is read or stored. A signed request that is malformed gets 400 with a sentence;
Twilio shows it in its debugger, and nothing is half-written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from smsapp import twilio_gateway
from smsapp.delivery import record_status_callback
from smsapp.http import API_PREFIX, json_error
from smsapp.inbound import InboundMedia, choose_reply, receive_message
from smsapp.messaging import status_callback_url
from smsapp.models import Media, Message, StatusEvent
from smsapp.validation import is_sid

logger = logging.getLogger(__name__)

# Twilio's webhooks are a few kilobytes (an SMS body is at most 1600 characters, an MMS
# carries at most 10 media URLs); anything this large is not from Twilio.
WEBHOOK_MAX_BYTES = 64 * 1024
MAX_NUM_MEDIA = twilio_gateway.MAX_MEDIA_URLS
MAX_ERROR_CODE = 2**31 - 1  # an IntegerField on PostgreSQL

_warned: set[str] = set()


def _warn_once(key: str, message: str, *args: Any) -> None:
    """A configuration warning, once per process: gunicorn does not run system checks,
    so the first webhook a worker handles says it in the log (checks.py says it at
    start-up for manage.py)."""
    if key not in _warned:
        _warned.add(key)
        logger.warning(message, *args)


class BadWebhook(ValueError):
    """A signed request that cannot be used: `field` is at fault, `sentence` says why."""

    def __init__(self, field: str, sentence: str) -> None:
        super().__init__(sentence)
        self.field = field
        self.sentence = sentence


# --- the signature check ----------------------------------------------------------------


def _public_url(request: HttpRequest) -> str:
    """The URL Twilio called. Behind a TLS-terminating proxy the request reaches Django as
    http on another host and port, so the configured public address is the truth."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + request.get_full_path()
    _warn_once(
        "no-public-base-url",
        "PUBLIC_BASE_URL is not set: webhook signatures are checked against the Host "
        "header and scheme this server sees, which fails behind a TLS-terminating proxy.",
    )
    return request.build_absolute_uri()


def _signed_params(request: HttpRequest) -> QueryDict | dict:
    """What Twilio signed besides the URL: every POST parameter (the QueryDict keeps
    repeated keys); for GET the parameters are in the URL's query string already."""
    return request.POST if request.method == "POST" else {}


def _refuse(request: HttpRequest, reason: str) -> HttpResponse:
    # The path and the caller only: the payload is a patient's message.
    logger.warning(
        "Refused Twilio webhook %s from %s: %s",
        request.path,
        request.META.get("HTTP_X_FORWARDED_FOR") or request.META.get("REMOTE_ADDR", "?"),
        reason,
    )
    return json_error("This request is not signed by Twilio for this account.", 403)


def _too_large(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False  # Django reads no body when the length is unreadable
    return length > WEBHOOK_MAX_BYTES


def twilio_signed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Only requests Twilio signed for this account reach `view`.

    The size is checked before the body is parsed, so an oversized post gets 413 and
    never reaches Django's own limits (DATA_UPLOAD_MAX_*), which would answer 400.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if _too_large(request):
            return json_error(
                f"Webhook bodies are limited to {WEBHOOK_MAX_BYTES // 1024} KiB; this one is "
                "larger, so it is not from Twilio.",
                413,
            )
        try:
            params = _signed_params(request)
        except RequestDataTooBig:
            return json_error("This webhook body is too large.", 413)
        except TooManyFieldsSent:
            return json_error("This webhook has too many parameters to be from Twilio.", 400)
        if not settings.TWILIO_VALIDATE_WEBHOOKS:
            _warn_once(
                "validation-off",
                "TWILIO_VALIDATE_WEBHOOKS is false: webhooks are accepted WITHOUT checking "
                "Twilio's signature. Anyone can post fake messages and statuses.",
            )
            return view(request, *args, **kwargs)
        if not settings.TWILIO_AUTH_TOKEN:
            _warn_once(
                "no-auth-token",
                "TWILIO_AUTH_TOKEN is not set: every Twilio webhook is refused with 403.",
            )
            return _refuse(request, "TWILIO_AUTH_TOKEN is not set")
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature:
            return _refuse(request, "no X-Twilio-Signature header")
        if not twilio_gateway.signature_is_valid(_public_url(request), params, signature):
            return _refuse(request, "the signature does not match")
        return view(request, *args, **kwargs)

    return wrapper


def _webhook(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Twilio posts without a CSRF token; the signature is the proof of origin."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        return csrf_exempt(require_http_methods(list(methods))(twilio_signed(view)))

    return decorate


# --- reading parameters -------------------------------------------------------------------


def _params(request: HttpRequest) -> QueryDict:
    return request.POST if request.method == "POST" else request.GET


def _clean(value: str) -> str:
    """PostgreSQL cannot store NUL in text or JSON; no real message contains one."""
    return value.replace("\x00", "")


def _text(params: QueryDict, *names: str, max_length: int, required: bool = False) -> str:
    """The first of `names` present (Twilio sends some values under two names)."""
    value = next((_clean(params[n]).strip() for n in names if params.get(n, "").strip()), "")
    if required and not value:
        raise BadWebhook(names[0], f"{names[0]} is missing; Twilio always sends it.")
    if len(value) > max_length:
        raise BadWebhook(names[0], f"{names[0]} is longer than {max_length} characters.")
    return value


def _count(params: QueryDict, name: str, *, default: int, low: int, high: int) -> int:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadWebhook(name, f"{name} must be a whole number, not {raw[:20]!r}.") from None
    if not low <= value <= high:
        raise BadWebhook(name, f"{name} must be between {low} and {high}; got {value}.")
    return value


def _payload(params: QueryDict) -> dict[str, Any]:
    """The parameters as JSON: one value as a string, a repeated key as a list."""
    cleaned = {_clean(k): [_clean(v) for v in values] for k, values in params.lists()}
    return {k: v[0] if len(v) == 1 else v for k, v in cleaned.items()}


def _field_length(model: type, name: str) -> int:
    return model._meta.get_field(name).max_length


SID_LENGTH = _field_length(Message, "sid")
NUMBER_LENGTH = _field_length(Message, "from_number")
CONTENT_TYPE_LENGTH = _field_length(Media, "content_type")
URI_LENGTH = _field_length(Media, "uri")
STATUS_LENGTH = _field_length(StatusEvent, "status")


def _media(params: QueryDict) -> list[InboundMedia]:
    count = _count(params, "NumMedia", default=0, low=0, high=MAX_NUM_MEDIA)
    media: dict[str, InboundMedia] = {}
    for i in range(count):
        name = f"MediaUrl{i}"
        url = _text(params, name, max_length=2048)
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:  # e.g. a malformed IPv6 host
            parts, host = urlsplit(""), None
        sid = parts.path.rstrip("/").rsplit("/", 1)[-1]
        # The SID later names the file in storage and the Twilio URL we download from
        # (built from SIDs, never this URL): it must be a real media SID on Twilio's API.
        if parts.scheme != "https" or host != "api.twilio.com" or not is_sid(sid, ("ME",)):
            raise BadWebhook(
                name,
                f"{name} must be the media item's Twilio URL (NumMedia is {count}), such as "
                "https://api.twilio.com/2010-04-01/Accounts/AC…/Messages/MM…/Media/ME….",
            )
        if len(parts.path) > URI_LENGTH:
            raise BadWebhook(name, f"{name} is longer than a Twilio media URL can be.")
        content_type = _text(params, f"MediaContentType{i}", max_length=CONTENT_TYPE_LENGTH)
        media.setdefault(sid, InboundMedia(sid=sid, uri=parts.path, content_type=content_type))
    return list(media.values())


# --- the views ------------------------------------------------------------------------------


@_webhook("POST")
def outbound_api_status(request: HttpRequest) -> HttpResponse:
    """A delivery status callback: stored, then the message moves forward if it may.
    Answered 200 with an empty body, also for a message not mirrored yet, so Twilio does
    not retry it."""
    params = _params(request)
    try:
        sid = _text(params, "MessageSid", "SmsSid", max_length=SID_LENGTH, required=True)
        status = _text(
            params, "MessageStatus", "SmsStatus", max_length=STATUS_LENGTH, required=True
        ).lower()
        if not Message.is_known_status(status):
            raise BadWebhook(
                "MessageStatus", f"MessageStatus {status!r} is not a Twilio message status."
            )
        error_code = _count(params, "ErrorCode", default=0, low=0, high=MAX_ERROR_CODE) or None
    except BadWebhook as exc:
        return json_error(exc.sentence, 400, {exc.field: exc.sentence})
    record_status_callback(
        message_sid=sid,
        status=status,
        error_code=error_code,
        error_message=_clean(params.get("ErrorMessage", "")).strip(),
        payload=_payload(params),
    )
    return HttpResponse(b"", content_type="text/plain")


@_webhook("GET", "POST")
def inbound_treatment(request: HttpRequest) -> HttpResponse:
    """An inbound SMS/MMS: stored with its media rows before answering, then answered with
    the auto-reply as TwiML. A repeated MessageSid or an opt-out word gets `<Response />`."""
    params = _params(request)
    try:
        fields = {
            "sid": _text(params, "MessageSid", "SmsSid", max_length=SID_LENGTH, required=True),
            "from_number": _text(params, "From", max_length=NUMBER_LENGTH, required=True),
            "to_number": _text(params, "To", max_length=NUMBER_LENGTH, required=True),
            "account_sid": _text(params, "AccountSid", max_length=SID_LENGTH),
            "messaging_service_sid": _text(params, "MessagingServiceSid", max_length=SID_LENGTH),
            "num_segments": _count(params, "NumSegments", default=1, low=1, high=100),
            "media": _media(params),
        }
    except BadWebhook as exc:
        return json_error(exc.sentence, 400, {exc.field: exc.sentence})
    body = _clean(params.get("Body", ""))
    message = receive_message(body=body, **fields)
    rule = None
    if message is not None:  # a retried delivery was answered the first time
        rule = choose_reply(body=body, opt_out_type=params.get("OptOutType", ""))
    twiml = (
        twilio_gateway.twiml_reply(rule.reply_text, rule.media_url, status_callback_url())
        if rule
        else twilio_gateway.empty_twiml()
    )
    return HttpResponse(twiml, content_type="application/xml")


urlpatterns = [
    path(f"{API_PREFIX}outbound_api_status", outbound_api_status, name="outbound_api_status"),
    path(f"{API_PREFIX}inbound_treatment", inbound_treatment, name="inbound_treatment"),
]
