"""What the JSON API does, as plain keyword-only functions the views (and tests) call.

Reads come from the local mirror; writes go to Twilio first (through the gateway, the only
module that talks to it) and then to the mirror, so the mirror never shows something Twilio
refused. The JSON shapes of the original Canvas plugin are built here too.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import logging
import mimetypes
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from itertools import islice
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from smsapp import sync, twilio_gateway
from smsapp.http import API_PREFIX
from smsapp.models import Media, Message, Phone, StatusEvent
from smsapp.twilio_gateway import TwilioError
from smsapp.validation import InvalidInput, is_sid
from smsapp.write_lock import write_lock

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
LIST_BODY_CHARS = 160  # one SMS segment: enough for a log line, small enough for 200 rows
TWILIO_API_VERSION = "2010-04-01"

# Types a browser may show inline from our origin. Everything else (text/html,
# image/svg+xml with its scripts, PDFs...) is served as a download, so a patient's
# attachment can never run in the app's origin.
_INLINE_PREFIXES = ("image/", "audio/", "video/")
_NEVER_INLINE = {"image/svg+xml"}
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


class NotFound(Exception):
    """No such record: the API answers 404 with this sentence."""


# --- URLs of our own webhooks --------------------------------------------------------------


def own_url(route: str) -> str:
    """Our public address for one of the API's routes, or "" when PUBLIC_BASE_URL is not
    set (Twilio cannot reach a server that does not know its own address)."""
    base = settings.PUBLIC_BASE_URL
    return f"{base}/{API_PREFIX}{route}" if base else ""


def inbound_webhook_url() -> str:
    return own_url("inbound_treatment")


def status_callback_url() -> str:
    return own_url("outbound_api_status")


# --- JSON shapes ----------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _rfc2822(value: datetime | None) -> str | None:
    """Twilio's own date format, e.g. "Thu, 30 Jul 2015 20:12:31 +0000"."""
    return format_datetime(value.astimezone(UTC)) if value else None


def phone_to_dict(phone: Phone, *, our_webhook: str) -> dict[str, Any]:
    """phone_list's item: the original plugin's keys, plus `pointsHere` (the number's SMS
    webhook is this app's inbound webhook, so its messages reach the mirror)."""
    return {
        "sid": phone.sid,
        "phoneNumber": phone.phone_number,
        "label": phone.friendly_name,
        "capabilities": phone.capabilities,
        "statusCallback": phone.status_callback,
        "status": phone.status,
        "inboundWebhook": {"url": phone.sms_url, "method": phone.sms_method},
        "pointsHere": bool(our_webhook) and phone.sms_url == our_webhook,
    }


# The columns a list item needs. Lists read them with .values(): building 50 model
# instances per request cost more than the indexed query itself.
SUMMARY_FIELDS = (
    "id", "sid", "date_created", "date_sent", "status", "num_media", "from_number",
    "to_number", "direction", "body", "error_code", "error_message",
)  # fmt: skip


def message_summary(row: dict[str, Any]) -> dict[str, Any]:
    """message_list's item, from a row of SUMMARY_FIELDS: the original's {sid, sent,
    status, mediaCount}, plus what a log line needs. `sent` is null while Twilio has not
    sent the message (queued)."""
    return {
        "sid": row["sid"],
        "sent": _iso(row["date_sent"]),
        "status": row["status"],
        "mediaCount": row["num_media"],
        "from": row["from_number"],
        "to": row["to_number"],
        "direction": row["direction"],
        "body": row["body"][:LIST_BODY_CHARS],
        "created": _iso(row["date_created"]),
        "errorCode": row["error_code"],
        "errorMessage": row["error_message"] or None,
    }


def message_to_dict(message: Message, media: Iterable[Media]) -> dict[str, Any]:
    """message/<sid>: Twilio's own field names and value types (counts as strings, empty
    values as null, dates in RFC 2822), plus ISO 8601 dates and our media routes."""
    uri = f"/{TWILIO_API_VERSION}/Accounts/{message.account_sid}/Messages/{message.sid}"
    return {
        "sid": message.sid,
        "account_sid": message.account_sid,
        "messaging_service_sid": message.messaging_service_sid or None,
        "api_version": TWILIO_API_VERSION,
        "body": message.body,
        "direction": message.direction,
        "from": message.from_number,
        "to": message.to_number,
        "status": message.status,
        "price": message.price or None,
        "price_unit": message.price_unit or None,
        "error_code": message.error_code,
        "error_message": message.error_message or None,
        "num_media": str(message.num_media),
        "num_segments": str(message.num_segments),
        "date_created": _rfc2822(message.date_created),
        "date_sent": _rfc2822(message.date_sent),
        "date_updated": _rfc2822(message.date_updated),
        "uri": f"{uri}.json",
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        "created": _iso(message.date_created),
        "sent": _iso(message.date_sent),
        "updated": _iso(message.date_updated),
        "media": [
            {
                "sid": item.sid,
                "contentType": item.content_type,
                "url": reverse("smsapp:media_item", args=[message.sid, item.sid]),
            }
            for item in media
        ],
    }


# --- keyset paging -------------------------------------------------------------------------


def encode_cursor(date_created: datetime, pk: int) -> str:
    """An opaque bookmark just past the message (date_created, pk) in newest-first order.
    Keyset paging costs the same on page 1 and page 1,000, where OFFSET would read and
    throw away every row before the page."""
    raw = f"{date_created.astimezone(UTC).isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    problem = InvalidInput(
        {
            "before": "This page cursor is not one the API gave out; start again from the "
            "first page (leave out `before`)."
        }
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        when, pk = datetime.fromisoformat(stamp), int(ident)
        if when.tzinfo is None or pk < 1:
            raise problem
        when = when.astimezone(UTC)  # 0001-01-01 at +14:00 has no UTC: OverflowError
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise problem from None
    return when, pk


def _older_than(queryset: QuerySet[Message], before: tuple[datetime, int] | None):
    """Rows strictly after the cursor in (date_created DESC, id DESC) order, newest first.

    `date_created <= d` is a range bound the index can seek to; the OR that breaks ties
    only filters the few rows sharing that instant. (A bare `date_created < d OR (= d AND
    id < i)` makes some planners scan from the newest row down to the cursor.)
    """
    if before is not None:
        when, pk = before
        queryset = queryset.filter(date_created__lte=when).filter(
            Q(date_created__lt=when) | Q(id__lt=pk)
        )
    return queryset.order_by("-date_created", "-id")


def message_page(
    *, number: str, direction: str, limit: int = DEFAULT_PAGE_SIZE, before: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Messages sent from (`direction="from"`) or to `number`, newest first, as rows of
    SUMMARY_FIELDS: one page and the cursor of the next, or None on the last page. One
    indexed range scan (message_from_newest / message_to_newest), one query."""
    field = {"from": "from_number", "to": "to_number"}[direction]
    cursor = decode_cursor(before) if before else None
    messages = _older_than(Message.objects.filter(**{field: number}), cursor)
    return _paged(list(messages.values(*SUMMARY_FIELDS)[: limit + 1]), limit)


def conversation_page(
    *, number: str, counterpart: str, limit: int = DEFAULT_PAGE_SIZE, before: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Both directions between `number` and `counterpart`: the newest `limit` messages
    before the cursor, returned OLDEST first (as a phone shows a conversation), and the
    cursor of the older page. Two range scans on message_pair_newest, merged in Python:
    an OR across the two directions would defeat the index's ordering."""
    cursor = decode_cursor(before) if before else None
    legs = [Message.objects.filter(from_number=number, to_number=counterpart)]
    if counterpart != number:
        legs.append(Message.objects.filter(from_number=counterpart, to_number=number))
    newest_first = heapq.merge(
        *(list(_older_than(leg, cursor).values(*SUMMARY_FIELDS)[: limit + 1]) for leg in legs),
        key=lambda row: (row["date_created"], row["id"]),
        reverse=True,
    )
    page, next_cursor = _paged(list(islice(newest_first, limit + 1)), limit)
    return page[::-1], next_cursor


def _paged(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    if len(rows) > limit:
        last = rows[limit - 1]
        return rows[:limit], encode_cursor(last["date_created"], last["id"])
    return rows, None


def page_size(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_PAGE_SIZE
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise InvalidInput(
            {
                "limit": f"limit must be a whole number from 1 to {MAX_PAGE_SIZE} "
                f"(default {DEFAULT_PAGE_SIZE})."
            }
        )
    return int(value)


# --- one message ---------------------------------------------------------------------------


def _check_message_sid(sid: str) -> None:
    if not is_sid(sid, ("SM", "MM")):
        raise NotFound(f"There is no message with SID {sid[:40]!r}; message SIDs start with SM.")


def get_message(*, sid: str) -> tuple[Message, list[Media]]:
    """A message and its media from the mirror; one the mirror has not seen yet is fetched
    from Twilio and mirrored first (Twilio's 404 becomes NotFound)."""
    _check_message_sid(sid)
    message = Message.objects.filter(sid=sid).first()
    if message is None:
        try:
            record = twilio_gateway.fetch_message(sid)
            media = twilio_gateway.list_media(sid) if record["num_media"] else []
        except TwilioError as error:
            if error.http_status == 404:
                raise NotFound(f"Twilio has no message {sid}; it may have been deleted.") from None
            raise
        message = mirror_message(record, media=media)
    media = list(message.media.all())
    if len(media) < message.num_media:
        # Stored by a webhook or sync whose media list was not read: read it now, so
        # the page can show the pictures. The message itself is still worth answering
        # when Twilio cannot be reached.
        try:
            if _mirror_missing_media(message):
                media = list(message.media.all())
        except TwilioError as error:
            logger.warning("Media list of %s not read: %s", message.sid, error.message)
    return message, media


def mirror_message(record: dict[str, Any], *, media: Iterable[dict[str, Any]] = ()) -> Message:
    """Store a message record from Twilio (and its media metadata) in one transaction, the
    way sync_twilio does: sync.upsert_messages never moves a stored status backwards (a
    status callback may have won the race with our send's answer). Callbacks that arrived
    before the row existed were kept as StatusEvents; they are applied now, in order."""
    sid = record["sid"]
    with transaction.atomic():
        sync.upsert_messages([record])
        for event in StatusEvent.objects.filter(message_id=sid):
            Message.objects.advance_status(
                sid=sid,
                status=event.status,
                error_code=event.error_code,
                error_message=event.error_message,
            )
        sync.save_media({sid: list(media)})
    return Message.objects.get(sid=sid)


# --- writes ---------------------------------------------------------------------------------


def send(
    *,
    from_: str,
    to: str,
    text: str,
    from_sid: str = "",
    media_urls: list[str] | None = None,
    callback_url: str = "",
) -> Message:
    """Send an SMS (an MMS with `media_urls`) from one of the account's numbers, then
    mirror what Twilio answered. The mirror is checked first, so a number that cannot
    send is a sentence, not a Twilio error."""
    phone = Phone.objects.filter(phone_number=from_).first()
    if phone is None:
        raise InvalidInput(
            {
                "numberFrom": f"{from_} is not one of this account's Twilio numbers; choose one "
                "from phone_list (run sync_twilio if it was added recently)."
            }
        )
    if from_sid and from_sid != phone.sid:
        raise InvalidInput(
            {
                "numberFromSid": f"numberFromSid {from_sid} is not the SID of {from_}; send "
                f"{phone.sid} or leave it out."
            }
        )
    if not phone.sms:
        raise InvalidInput(
            {
                "numberFrom": f"{from_} cannot send text messages (it has no SMS capability); "
                "choose another number."
            }
        )
    if media_urls and not phone.mms:
        raise InvalidInput(
            {
                "numberFrom": f"{from_} cannot send pictures or other media (it has no MMS "
                "capability); remove the media or choose another number."
            }
        )
    record = twilio_gateway.send_message(
        from_=from_,
        to=to,
        body=text,
        media_urls=media_urls or [],
        status_callback=callback_url or status_callback_url() or None,
    )
    try:
        with write_lock():
            return mirror_message(record)
    except DatabaseError:
        # Twilio has accepted the text: an error here would make staff press Send again
        # and the patient get it twice. Answer with Twilio's record; the next status
        # callback or sync mirrors it.
        logger.exception("Sent %s but could not mirror it yet", record["sid"])
        return Message(**record)


def delete(*, sid: str) -> None:
    """Delete a message on Twilio, then its mirror row, media rows and cached files.

    A message Twilio already forgot is still removed from the mirror; one neither knows
    is NotFound. Twilio refusing (e.g. 20009, still being processed) leaves the mirror
    untouched, so nothing disappears from the log that still exists on Twilio.
    """
    _check_message_sid(sid)
    try:
        twilio_gateway.delete_message(sid)
        on_twilio = True
    except TwilioError as error:
        if error.http_status != 404:
            raise
        on_twilio = False
    with transaction.atomic():
        message = Message.objects.filter(sid=sid).first()
        if message is None:
            if on_twilio:
                return
            raise NotFound(f"There is no message {sid}, here or on Twilio.")
        files = [item.file.name for item in message.media.all() if item.file]
        message.delete()
        # Files are not transactional: remove them only once the rows are surely gone.
        transaction.on_commit(lambda: _delete_files(files))


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def set_inbound_webhook(*, phone_sid: str, url: str, method: str) -> Phone:
    """Point a number's inbound SMS webhook at `url` on Twilio, then mirror what Twilio
    answered (its normalised URL and method)."""
    phone = Phone.objects.filter(sid=phone_sid).first() if is_sid(phone_sid, ("PN",)) else None
    if phone is None:
        raise NotFound(
            f"There is no phone number with SID {phone_sid[:40]!r} in this account; "
            "run sync_twilio if it was added recently."
        )
    record = twilio_gateway.update_sms_webhook(phone.sid, url=url, method=method)
    for name, value in record.items():
        setattr(phone, name, value)
    phone.synced_at = timezone.now()
    phone.save()
    return phone


# --- media ----------------------------------------------------------------------------------


def find_media(*, message_sid: str, media_sid: str | None = None) -> Media:
    """One media item of a mirrored message: `media_sid`, or the first one. Only media
    Twilio lists for a message we mirror can be served: the app never fetches a URL it
    was handed. Metadata missing from the mirror is read from Twilio once."""
    _check_message_sid(message_sid)
    message = Message.objects.filter(sid=message_sid).first()
    if message is None:
        raise NotFound(f"There is no message {message_sid} in the mirror.")
    item = _media_of(message, media_sid)
    if item is None and _mirror_missing_media(message):
        item = _media_of(message, media_sid)
    if item is None:
        if media_sid:
            raise NotFound(f"Message {message_sid} has no media item {media_sid[:40]!r}.")
        raise NotFound(f"Message {message_sid} has no media.")
    item.message = message
    return item


def _mirror_missing_media(message: Message) -> bool:
    """Read the message's media list from Twilio when the mirror holds fewer items than
    Twilio counted (a webhook or sync stored the message first). True if any were added."""
    if Media.objects.filter(message=message).count() >= message.num_media:
        return False
    return sync.save_media({message.sid: twilio_gateway.list_media(message.sid)}).created > 0


def _media_of(message: Message, media_sid: str | None) -> Media | None:
    items = Media.objects.filter(message=message)
    return items.filter(sid=media_sid).first() if media_sid else items.first()


def media_content(media: Media) -> tuple[File, str]:
    """The media item's bytes and content type: from Django's storage once cached, else
    downloaded through the gateway once and cached."""
    lost = ""  # a cached file that went missing: replaced below, like an empty cache
    if media.file:
        try:
            return media.file.open("rb"), safe_content_type(media.content_type)
        except FileNotFoundError:
            lost = media.file.name  # the cache was cleaned up under us: fetch again
    content, downloaded_type = twilio_gateway.download_media(media.message.sid, media.sid)
    content_type = safe_content_type(media.content_type or downloaded_type)
    extension = mimetypes.guess_extension(content_type) or ""
    field = media.file
    field.save(f"{media.sid}{extension}", ContentFile(content), save=False)
    # Two first requests at once both download; the row keeps the first file, the other
    # copy is removed instead of lingering in storage.
    stored = Media.objects.filter(pk=media.pk, file__in=["", None, lost]).update(
        file=field.name, content_type=content_type
    )
    if not stored:
        default_storage.delete(field.name)
    return ContentFile(content), content_type


def safe_content_type(value: str) -> str:
    """A content type that can go in a header: Twilio's, or octet-stream if it is not a
    plain type/subtype (parameters are dropped, since media are served as bytes)."""
    text = (value or "").split(";")[0].strip().lower()
    return text if _CONTENT_TYPE.match(text) else "application/octet-stream"


def shows_inline(content_type: str) -> bool:
    return content_type.startswith(_INLINE_PREFIXES) and content_type not in _NEVER_INLINE
