"""Media of mirrored messages: which item a request means, and its bytes, downloaded from
Twilio once and then served from Django's storage.

Only media Twilio lists for a message we mirror can be served: the app never fetches a
URL it was handed.
"""

from __future__ import annotations

import mimetypes
import re

from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django_tasks import task

from smsapp import twilio_gateway
from smsapp.lib.errors import NotFound
from smsapp.lib.validation import check_message_sid
from smsapp.models import Media, Message
from smsapp.services import audit
from smsapp.services.mirror import save_media

# Types a browser shows inline from our origin and can never run: raster images, sound
# and video. Everything else (text/html, image/svg+xml with its scripts, JavaScript,
# PDFs, types nobody knows) is served as bytes to download, so a patient's attachment can
# never become a document or a script in the app's origin. The page (media.js) keeps the
# same list.
_INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_INLINE_PREFIXES = ("audio/", "video/")
DOWNLOAD_TYPE = "application/octet-stream"
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


def find_media(*, message_sid: str, media_sid: str | None = None) -> Media:
    """One media item of a mirrored message: `media_sid`, or the first one. Metadata
    missing from the mirror is read from Twilio once."""
    check_message_sid(message_sid)
    message = Message.objects.filter(sid=message_sid).first()
    if message is None:
        raise NotFound(f"There is no message {message_sid} in the mirror.")
    item = _media_of(message, media_sid)
    if item is None and mirror_missing_media(message):
        item = _media_of(message, media_sid)
    if item is None:
        if media_sid:
            raise NotFound(f"Message {message_sid} has no media item {media_sid[:40]!r}.")
        raise NotFound(f"Message {message_sid} has no media.")
    item.message = message
    return item


def view_media(
    *, message_sid: str, media_sid: str | None = None, actor: audit.Actor
) -> tuple[Media, File, str]:
    """A media item, its bytes and content type for a person to see (find_media,
    media_content), recorded in the audit trail once the bytes are there (target: the
    message's SID). Every request is a view: the page keeps no picture between them."""
    item = find_media(message_sid=message_sid, media_sid=media_sid)
    content, content_type = media_content(item)
    audit.record(
        audit.Action.MEDIA_VIEWED,
        target=message_sid,
        actor=actor,
        patient_number=item.message.patient_number,
    )
    return item, content, content_type


def mirror_missing_media(message: Message) -> bool:
    """Read the message's media list from Twilio when the mirror holds fewer items than
    Twilio counted (a webhook or sync stored the message first). True if any were added."""
    if Media.objects.filter(message=message).count() >= message.num_media:
        return False
    return save_media({message.sid: twilio_gateway.list_media(message.sid)}).created > 0


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
    field = media.file
    field.save(f"{media.sid}{extension(content_type)}", ContentFile(content), save=False)
    # Two first requests at once both download; the row keeps the first file, the other
    # copy is removed instead of lingering in storage.
    stored = Media.objects.filter(pk=media.pk, file__in=["", None, lost]).update(
        file=field.name, content_type=content_type
    )
    if not stored:
        default_storage.delete(field.name)
    return ContentFile(content), content_type


def cache_all(message_sid: str) -> int:
    """Download each media item of a mirrored message that is not in storage yet (the
    job after an inbound MMS). Returns how many were downloaded. An item that fails does
    not stop the others; the first failure is raised at the end, so the job keeps it (the
    page's first view of that item tries again)."""
    message = Message.objects.filter(sid=message_sid).first()
    if message is None:
        return 0
    downloaded, failures = 0, []
    for item in Media.objects.filter(message=message, file=""):
        item.message = message
        try:
            media_content(item)
        except twilio_gateway.TwilioError as error:
            failures.append(error)
            continue
        downloaded += 1
    if failures:
        raise failures[0]
    return downloaded


def extension(content_type: str) -> str:
    return mimetypes.guess_extension(content_type) or ""


def safe_content_type(value: str) -> str:
    """A content type that can go in a header: Twilio's, or octet-stream if it is not a
    plain type/subtype (parameters are dropped, since media are served as bytes)."""
    text = (value or "").split(";")[0].strip().lower()
    return text if _CONTENT_TYPE.match(text) else "application/octet-stream"


def shows_inline(content_type: str) -> bool:
    return content_type in _INLINE_TYPES or content_type.startswith(_INLINE_PREFIXES)


def served_type(content_type: str) -> str:
    """The type a media item is served with: its own when it shows inline, otherwise
    octet-stream, which with nosniff no browser renders as a page or runs as a script
    (Content-Disposition alone does not stop a <script src> from running it)."""
    return content_type if shows_inline(content_type) else DOWNLOAD_TYPE


@task()
def cache_media(message_sid: str) -> int:
    """The job right after an inbound MMS: its media into storage, so the page shows them
    without waiting on Twilio."""
    return cache_all(message_sid)
