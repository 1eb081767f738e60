"""Twilio's webhooks: delivery status callbacks and inbound messages.

Both are checked by @twilio_webhook before anything is read or stored. A signed request
that is malformed gets 400 with a sentence; Twilio shows it in its debugger, and nothing
is half-written.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, QueryDict

from smsapp import twilio_gateway
from smsapp.lib.public_urls import status_callback_url
from smsapp.lib.validation import is_sid
from smsapp.lib.write_lock import write_lock
from smsapp.models import Media, Message, StatusEvent
from smsapp.services import replies
from smsapp.services.media import cache_media
from smsapp.services.mirror import InboundMedia, receive_message, record_status_callback
from smsapp.twilio_gateway.constants import API_BASE, API_HOST, API_VERSION, MAX_MEDIA
from smsapp.web.decorators import json_error, twilio_webhook

MAX_ERROR_CODE = 2**31 - 1  # an IntegerField on PostgreSQL


class BadWebhook(ValueError):
    """A signed request that cannot be used: `field` is at fault, `sentence` says why."""

    def __init__(self, field: str, sentence: str) -> None:
        super().__init__(sentence)
        self.field = field
        self.sentence = sentence


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
    count = _count(params, "NumMedia", default=0, low=0, high=MAX_MEDIA)
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
        if parts.scheme != "https" or host != API_HOST or not is_sid(sid, ("ME",)):
            raise BadWebhook(
                name,
                f"{name} must be the media item's Twilio URL (NumMedia is {count}), such as "
                f"{API_BASE}/{API_VERSION}/Accounts/AC…/Messages/MM…/Media/ME….",
            )
        if len(parts.path) > URI_LENGTH:
            raise BadWebhook(name, f"{name} is longer than a Twilio media URL can be.")
        content_type = _text(params, f"MediaContentType{i}", max_length=CONTENT_TYPE_LENGTH)
        media.setdefault(sid, InboundMedia(sid=sid, uri=parts.path, content_type=content_type))
    return list(media.values())


# --- the views ------------------------------------------------------------------------------


@twilio_webhook("POST")
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
        from_number = _text(params, "From", max_length=NUMBER_LENGTH)
        to_number = _text(params, "To", max_length=NUMBER_LENGTH)
    except BadWebhook as exc:
        return json_error(exc.sentence, 400, {exc.field: exc.sentence})
    record_status_callback(
        message_sid=sid,
        status=status,
        error_code=error_code,
        error_message=_clean(params.get("ErrorMessage", "")).strip(),
        payload=_payload(params),
        from_number=from_number,
        to_number=to_number,
    )
    return HttpResponse(b"", content_type="text/plain")


@twilio_webhook("GET", "POST")
def inbound_treatment(request: HttpRequest) -> HttpResponse:
    """An inbound SMS/MMS: stored with its media rows (and the consent change of an
    opt-out or opt-in keyword) before answering, then answered with the auto-reply as
    TwiML. A repeated MessageSid, a keyword or a patient who opted out gets `<Response />`.
    An MMS's media bytes are fetched by a job right after, never while Twilio waits."""
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
    opt_out_type = params.get("OptOutType", "")
    message = receive_message(
        body=_clean(params.get("Body", "")), opt_out_type=opt_out_type, **fields
    )
    rule = None
    if message is not None:  # a retried delivery was answered the first time
        if message.num_media:
            with write_lock():  # a write like the message's: queued the same way on SQLite
                cache_media.enqueue(message.sid)
        rule = replies.reply_to(message, opt_out_type=opt_out_type)
    twiml = (
        twilio_gateway.twiml_reply(rule.reply_text, rule.media_url, status_callback_url())
        if rule
        else twilio_gateway.empty_twiml()
    )
    return HttpResponse(twiml, content_type="application/xml")
