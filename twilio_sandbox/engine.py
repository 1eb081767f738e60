"""What the stand-in does, as plain functions: seed an account, accept a message, move it
through queued → sent → delivered while posting signed status callbacks, and deliver a
simulated inbound message to a number's webhook, as Twilio would.

The status steps are jobs on the app's task queue (status_step, below), each queued
SANDBOX_STEP_SECONDS after the previous one: a worker (`make run` starts one) moves the
message along, as Twilio does after answering the POST."""

from __future__ import annotations

import logging
import math
import mimetypes
import secrets
import struct
import zlib
from datetime import timedelta
from xml.etree import ElementTree

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from smsapp.lib import validation
from smsapp.lib.public_urls import own_url
from smsapp.twilio_gateway import sign_webhook
from smsapp.twilio_gateway.constants import API_BASE, API_VERSION, MAX_MEDIA
from twilio_sandbox import credentials
from twilio_sandbox.models import SandboxMedia, SandboxMessage, SandboxNumber

logger = logging.getLogger(__name__)

# Recipients with a fixed fate, like Twilio's magic test numbers.
OPTED_OUT = "+15005550004"  # refused at once with 21610, as after the patient texted STOP
UNDELIVERABLE = "+15005550010"  # accepted, then queued → sent → undelivered (30003)
FINAL = {"delivered", "undelivered", "failed", "read", "canceled", "received"}

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


class SandboxError(Exception):
    """A refusal with Twilio's error code and HTTP status."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def segments(body: str) -> int:
    """SMS segments, as carriers count them: GSM-7 160/153, UCS-2 70/67 code units."""
    if all(c in GSM7 or c in GSM7_EXTENDED for c in body):
        units, single, multi = sum(2 if c in GSM7_EXTENDED else 1 for c in body), 160, 153
    else:
        units, single, multi = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / multi)


def sample_png(rgb: tuple[int, int, int] = (46, 125, 186), size: int = 48) -> bytes:
    """A small solid-colour PNG: the sandbox cannot fetch media from the internet, so every
    attachment it stores is one of these (or a text placeholder for other types)."""
    row = b"\x00" + bytes(rgb) * size
    raw = zlib.compress(row * size)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _placeholder(url: str) -> tuple[str, bytes]:
    content_type = mimetypes.guess_type(url.split("?")[0])[0] or "image/png"
    if content_type.startswith("image/"):
        return "image/png", sample_png()
    return "text/plain", f"Sandbox placeholder for {url}\n".encode()


# --- the account -------------------------------------------------------------------------


def ensure_seeded() -> None:
    """A new sandbox account: three numbers of different capabilities and some history."""
    if SandboxNumber.objects.exists():
        return
    with transaction.atomic():
        inbound_url = own_url("inbound_treatment")
        desk = SandboxNumber.objects.create(
            sid=new_sid("PN"), phone_number="+15005550006", friendly_name="Front desk",
            mms=True, sms_url=inbound_url,
        )  # fmt: skip
        SandboxNumber.objects.create(
            sid=new_sid("PN"), phone_number="+15005550007", friendly_name="Nurse line",
            sms_url=inbound_url,
        )  # fmt: skip
        SandboxNumber.objects.create(
            sid=new_sid("PN"), phone_number="+15005550008", friendly_name="Fax and voice",
            sms=False, fax=True, status="in-use",
        )  # fmt: skip
        now = timezone.now()
        history = [
            ("+14155550101", "inbound", "Hi, can I move my appointment to Friday?"),
            ("+14155550101", "outbound-api", "Of course. Friday 10:30 works, see you then."),
            ("+14155550102", "outbound-api", "Reminder: your visit is tomorrow at 9:00."),
            ("+14155550102", "inbound", "Thanks! Here is my insurance card."),
        ]
        for minutes, (patient, direction, body) in enumerate(history):
            at = now - timedelta(days=1) + timedelta(minutes=10 * minutes)
            inbound = direction == "inbound"
            message = SandboxMessage.objects.create(
                sid=new_sid("SM" if not inbound or minutes != 3 else "MM"),
                direction=direction,
                from_number=patient if inbound else desk.phone_number,
                to_number=desk.phone_number if inbound else patient,
                body=body,
                status="received" if inbound else "delivered",
                num_segments=segments(body),
                price="-0.00790",
                date_created=at,
                date_sent=at,
                date_updated=at,
            )
            if minutes == 3:
                SandboxMedia.objects.create(
                    sid=new_sid("ME"), message=message, content_type="image/png",
                    content=sample_png((60, 160, 90)),
                )  # fmt: skip


def _number(phone_number: str) -> SandboxNumber | None:
    return SandboxNumber.objects.filter(phone_number=phone_number).first()


def _e164(value: str) -> str | None:
    """The number in E.164 as the app's own check reads it, or None (Twilio's 21211)."""
    try:
        return validation.e164(value, field="number", label="The number")
    except validation.InvalidInput:
        return None


# --- sending -----------------------------------------------------------------------------


def create_message(
    *, from_: str, to: str, body: str, media_urls: list[str], status_callback: str
) -> SandboxMessage:
    """Accept a message as Twilio's Messages API does, refusing with its error codes."""
    to_e164 = _e164(to)
    if not to_e164:
        raise SandboxError(21211, f"The 'To' number {to} is not a valid phone number.")
    sender = _number(from_)
    if sender is None or not sender.sms:
        raise SandboxError(
            21606, f"The From number {from_} is not a valid, SMS-capable inbound phone number."
        )
    if media_urls and not sender.mms:
        raise SandboxError(21606, f"The From phone number {from_} cannot send MMS.")
    if not body and not media_urls:
        raise SandboxError(21602, "Message body is required.")
    if len(media_urls) > MAX_MEDIA:
        raise SandboxError(21623, "Number of media files exceeds allowed limit of 10.")
    if to_e164 == OPTED_OUT:
        raise SandboxError(21610, "Attempt to send to unsubscribed recipient")
    return _queue(
        direction="outbound-api",
        from_=sender.phone_number,
        to=to_e164,
        body=body,
        media_urls=media_urls,
        status_callback=status_callback,
    )


def _queue(
    *, direction: str, from_: str, to: str, body: str, media_urls: list[str], status_callback: str
) -> SandboxMessage:
    """Store an outgoing message (and its media) as queued, then start its delivery."""
    now = timezone.now()
    with transaction.atomic():
        message = SandboxMessage.objects.create(
            sid=new_sid("MM" if media_urls else "SM"),
            direction=direction,
            from_number=from_,
            to_number=to,
            body=body,
            status="queued",
            num_segments=segments(body) if body else 1,
            status_callback=status_callback,
            date_created=now,
            date_updated=now,
        )
        for url in media_urls:
            content_type, content = _placeholder(url)
            SandboxMedia.objects.create(
                sid=new_sid("ME"), message=message, content_type=content_type, content=content
            )
    _next_step(message.sid, "sent")
    return message


def _next_step(sid: str, status: str) -> None:
    """Queue the step to `status` SANDBOX_STEP_SECONDS from now."""
    run_after = timezone.now() + timedelta(seconds=settings.SANDBOX_STEP_SECONDS)
    status_step.using(run_after=run_after).enqueue(sid, status)


def step(sid: str, status: str) -> str:
    """One status step: sent, then delivered (undelivered for UNDELIVERABLE)."""
    if not SandboxMessage.objects.filter(sid=sid).exists():
        return "deleted meanwhile"
    if status == "sent":
        message = advance(sid, "sent")
        final = "undelivered" if message.to_number == UNDELIVERABLE else "delivered"
        _next_step(sid, final)
    elif status == "undelivered":
        advance(sid, "undelivered", error=(30003, "Unreachable destination handset"))
    else:
        advance(sid, status)
    return status


def advance(sid: str, status: str, error: tuple[int, str] | None = None) -> SandboxMessage:
    """Move a message to `status` and tell its status callback, signed like Twilio."""
    now = timezone.now()
    fields = {"status": status, "date_updated": now}
    if status == "sent":
        fields["date_sent"] = now
        fields["price"] = "-0.00790"
    if error:
        fields["error_code"], fields["error_message"] = error
    SandboxMessage.objects.filter(sid=sid).update(**fields)
    message = SandboxMessage.objects.get(sid=sid)
    if message.status_callback:
        params = {
            "AccountSid": credentials.ACCOUNT_SID,
            "ApiVersion": API_VERSION,
            "From": message.from_number,
            "To": message.to_number,
            "MessageSid": message.sid,
            "SmsSid": message.sid,
            "MessageStatus": status,
            "SmsStatus": status,
        }
        if error:
            params["ErrorCode"] = str(error[0])
        try:
            post_signed(message.status_callback, params)
        except SandboxError as exc:  # like Twilio: a callback that fails changes nothing
            logger.warning("sandbox: status callback for %s not delivered: %s", sid, exc)
    return message


def _auth_token() -> str:
    """The stand-in signs with its own auth token; the app checks with TWILIO_AUTH_TOKEN,
    which sandbox mode sets to the same value (project/settings.py)."""
    return credentials.auth_token(settings.SECRET_KEY)


def _is_this_app(url: str) -> bool:
    """The stand-in only ever calls this app: a URL staff typed (a callback, a number's
    webhook) must not make the server reach anywhere else."""
    bases = {settings.PUBLIC_BASE_URL, settings.SANDBOX_BASE_URL} - {""}
    return any(url == base or url.startswith(base + "/") for base in bases)


def post_signed(url: str, params: dict[str, str], method: str = "POST") -> requests.Response:
    """Call the app as Twilio does: form-encoded (or query string for GET), with
    X-Twilio-Signature computed with the sandbox's auth token over the URL and params."""
    if not _is_this_app(url):
        raise SandboxError(11200, f"The sandbox only calls this app, not {url[:200]}.", 502)
    try:
        if method == "GET":
            prepared = requests.Request("GET", url, params=params).prepare()
            signature = sign_webhook(prepared.url, {}, _auth_token())
            headers = {"X-Twilio-Signature": signature}
            return requests.get(prepared.url, headers=headers, timeout=10, allow_redirects=False)
        signature = sign_webhook(url, params, _auth_token())
        headers = {"X-Twilio-Signature": signature}
        return requests.post(url, data=params, headers=headers, timeout=10, allow_redirects=False)
    except requests.RequestException as exc:
        raise SandboxError(
            11200, f"The sandbox could not reach {url[:200]} ({type(exc).__name__}).", 502
        ) from exc


# --- receiving ---------------------------------------------------------------------------


def simulate_inbound(
    *, from_: str, to: str, body: str, media: int = 0
) -> tuple[SandboxMessage, list[SandboxMessage]]:
    """A patient texts one of the sandbox numbers: store it, call the number's webhook,
    and send the TwiML reply back to the patient. Returns the message and the replies."""
    sender = _e164(from_)
    if not sender:
        raise SandboxError(21211, f"{from_} is not a valid phone number; use E.164.")
    number = _number(to)
    if number is None or not number.sms:
        raise SandboxError(21606, f"{to} is not an SMS-capable number of this sandbox account.")
    if not 0 <= media <= MAX_MEDIA or (media and not number.mms):
        raise SandboxError(21623, f"{to} can receive between 0 and {MAX_MEDIA} media items.")
    now = timezone.now()
    with transaction.atomic():
        message = SandboxMessage.objects.create(
            sid=new_sid("MM" if media else "SM"),
            direction="inbound",
            from_number=sender,
            to_number=number.phone_number,
            body=body,
            status="received",
            num_segments=segments(body),
            date_created=now,
            date_sent=now,
            date_updated=now,
        )
        items = [
            SandboxMedia.objects.create(
                sid=new_sid("ME"),
                message=message,
                content_type="image/png",
                content=sample_png((200, 90 + 30 * i, 60)),
            )  # fmt: skip
            for i in range(media)
        ]
    if not number.sms_url:
        return message, []
    params = {
        "AccountSid": credentials.ACCOUNT_SID,
        "ApiVersion": API_VERSION,
        "MessageSid": message.sid,
        "SmsMessageSid": message.sid,
        "SmsSid": message.sid,
        "SmsStatus": "received",
        "From": sender,
        "To": number.phone_number,
        "Body": body,
        "NumMedia": str(len(items)),
        "NumSegments": str(message.num_segments),
    }
    for i, item in enumerate(items):
        params[f"MediaUrl{i}"] = media_url(message.sid, item.sid)
        params[f"MediaContentType{i}"] = item.content_type
    response = post_signed(number.sms_url, params, number.sms_method)
    if response.status_code != 200:
        raise SandboxError(11200, f"The webhook answered HTTP {response.status_code}.", 502)
    return message, _send_replies(number, sender, response.text)


def media_url(message_sid: str, media_sid: str) -> str:
    return (
        f"{API_BASE}/{API_VERSION}/Accounts/{credentials.ACCOUNT_SID}"
        f"/Messages/{message_sid}/Media/{media_sid}"
    )


def _send_replies(number: SandboxNumber, patient: str, twiml: str) -> list[SandboxMessage]:
    """Twilio sends each <Message> of the webhook's TwiML back to the sender."""
    if not twiml.strip():
        return []
    try:
        root = ElementTree.fromstring(twiml)  # noqa: S314 - the app's own TwiML
    except ElementTree.ParseError as exc:
        raise SandboxError(12100, f"The webhook's TwiML could not be parsed: {exc}.", 502) from exc
    replies = []
    for element in root.iter("Message"):
        body_el = element.find("Body")
        body = (body_el.text if body_el is not None else element.text) or ""
        reply = _queue(
            direction="outbound-reply",
            from_=number.phone_number,
            to=patient,
            body=body.strip(),
            media_urls=[(m.text or "").strip() for m in element.iter("Media")],
            # TwiML's <Message action="..."> is where Twilio reports the reply's status.
            status_callback=element.get("action", ""),
        )
        replies.append(reply)
    return replies


def delete_message(sid: str) -> None:
    message = SandboxMessage.objects.filter(sid=sid).first()
    if message is None:
        raise SandboxError(20404, f"The requested resource Messages/{sid} was not found", 404)
    if message.status not in FINAL:
        raise SandboxError(20009, "Cannot delete this resource before it is complete", 409)
    message.delete()


@task()
def status_step(sid: str, status: str) -> str:
    """The job of one status step, as Twilio moves a message along after answering the
    POST: queued by the step before it."""
    return step(sid, status)
