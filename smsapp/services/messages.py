"""Messages, as staff see and handle them: the log's pages, one message, send, delete.

Reads come from the local mirror; writes go to Twilio first (through the gateway) and then
to the mirror (through smsapp.services.mirror), so the mirror never shows something Twilio
refused.
"""

from __future__ import annotations

import heapq
import logging
from itertools import islice
from typing import Any

from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.utils import timezone

from smsapp import twilio_gateway
from smsapp.lib.errors import InvalidInput, NotFound
from smsapp.lib.paging import DEFAULT_PAGE_SIZE, decode_cursor, older_than, paged
from smsapp.lib.public_urls import status_callback_url
from smsapp.lib.validation import check_message_sid
from smsapp.lib.write_lock import write_lock
from smsapp.models import Media, Message, Phone, SendAttempt
from smsapp.services import audit, consent, inbox, lookup
from smsapp.services import media as media_cache
from smsapp.services.mirror import mirror_message
from smsapp.twilio_gateway import TwilioError

logger = logging.getLogger(__name__)


# --- the log --------------------------------------------------------------------------------


def message_page(
    *, number: str, direction: str, limit: int = DEFAULT_PAGE_SIZE, before: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Messages sent from (`direction="from"`) or to `number`, newest first, as rows of
    Message.SUMMARY_FIELDS: one page and the cursor of the next, or None on the last
    page. One indexed range scan (message_from_newest / message_to_newest)."""
    field = {"from": "from_number", "to": "to_number"}[direction]
    cursor = decode_cursor(before) if before else None
    messages = older_than(Message.objects.filter(**{field: number}), cursor)
    return paged(list(messages.values(*Message.SUMMARY_FIELDS)[: limit + 1]), limit)


def conversation_page(
    *,
    number: str,
    counterpart: str,
    limit: int = DEFAULT_PAGE_SIZE,
    before: str | None = None,
    opened_by: audit.Actor | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Both directions between `number` and `counterpart`: the newest `limit` messages
    before the cursor, returned OLDEST first (as a phone shows a conversation), and the
    cursor of the older page. Two range scans on message_pair_newest, merged in Python:
    an OR across the two directions would defeat the index's ordering.

    `opened_by`: someone opened the conversation (not a poll, not an older page; the
    view decides), recorded in the audit trail (target: the patient's number)."""
    cursor = decode_cursor(before) if before else None
    legs = [Message.objects.filter(from_number=number, to_number=counterpart)]
    if counterpart != number:
        legs.append(Message.objects.filter(from_number=counterpart, to_number=number))
    newest_first = heapq.merge(
        *(
            list(older_than(leg, cursor).values(*Message.SUMMARY_FIELDS)[: limit + 1])
            for leg in legs
        ),
        key=lambda row: (row["date_created"], row["id"]),
        reverse=True,
    )
    page, next_cursor = paged(list(islice(newest_first, limit + 1)), limit)
    if opened_by is not None:
        audit.record(
            audit.Action.CONVERSATION_OPENED,
            target=counterpart,
            actor=opened_by,
            patient_number=counterpart,
        )
    return page[::-1], next_cursor


# --- one message ----------------------------------------------------------------------------


def get_message(*, sid: str) -> tuple[Message, list[Media]]:
    """A message and its media from the mirror; one the mirror has not seen yet is fetched
    from Twilio and mirrored first (Twilio's 404 becomes NotFound)."""
    check_message_sid(sid)
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
            if media_cache.mirror_missing_media(message):
                media = list(message.media.all())
        except TwilioError as error:
            logger.warning("Media list of %s not read: %s", message.sid, error.message)
    return message, media


# --- writes ---------------------------------------------------------------------------------


class OutcomeUnknown(Exception):
    """Twilio did not answer after the send's request left, so the text may have gone
    out. `attempt` records what was sent; a job looks it up (smsapp.services.lookup)."""

    def __init__(self, attempt: SendAttempt) -> None:
        super().__init__(attempt.SENTENCES[attempt.state])
        self.attempt = attempt


def check_sender(*, from_: str, from_sid: str = "", media_urls: list[str] | None = None) -> Phone:
    """The number to send from, checked against the mirror, so a number that cannot send
    is a sentence, not a Twilio error."""
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
    return phone


def send(
    *,
    from_: str,
    to: str,
    text: str,
    from_sid: str = "",
    media_urls: list[str] | None = None,
    callback_url: str = "",
    user=None,
    actor: audit.Actor = audit.SYSTEM,
) -> Message:
    """Send an SMS (an MMS with `media_urls`) from one of the account's numbers, then
    mirror what Twilio answered and record who sent it (`actor`: staff's request, or
    `system` for a scheduled text whose `user` scheduled it). Staff's sends and scheduled
    ones both come through here.

    Raises OptedOut, without calling Twilio, when the patient opted out; and when Twilio
    refuses with 21610, after recording that opt-out (smsapp.services.consent).
    Raises OutcomeUnknown when Twilio may have sent it without telling us (never retried).
    Returns an unsaved Message (no pk) when Twilio accepted the text but the mirror could
    not store it: the caller must say so, since the log will not show it yet.
    """
    check_sender(from_=from_, from_sid=from_sid, media_urls=media_urls)
    attempted_at = timezone.now()
    try:
        with consent.send_permitted(our_number=from_, patient_number=to):
            record = twilio_gateway.send_message(
                from_=from_,
                to=to,
                body=text,
                media_urls=media_urls or [],
                status_callback=callback_url or status_callback_url() or None,
            )
    except TwilioError as error:
        if error.code == consent.TWILIO_OPTED_OUT:
            consent.record_twilio_refusal(our_number=from_, patient_number=to)
            raise consent.refusal(our_number=from_, patient_number=to) from error
        if not error.outcome_unknown:
            raise
        attempt = lookup.record_unknown(
            from_=from_,
            to=to,
            body=text,
            media_urls=media_urls or [],
            attempted_at=attempted_at,
            user=user,
            actor=actor,
        )
        raise OutcomeUnknown(attempt) from error
    sent = {"target": record["sid"], "actor": actor, "patient_number": to}
    try:
        with write_lock(), transaction.atomic():
            message = mirror_message(record)
            audit.record(audit.Action.MESSAGE_SENT, **sent)
            return message
    except DatabaseError:
        # Twilio has accepted the text: an error here would make staff press Send again
        # and the patient get it twice. Answer with Twilio's record, unsaved; the next
        # status callback or sync mirrors it. The text went out, so its audit entry is
        # tried again on its own.
        logger.exception("Sent %s but could not mirror it yet", record["sid"])
        _record_anyway(audit.Action.MESSAGE_SENT, **sent)
        return Message(**record)


def _record_anyway(action: str, **entry: Any) -> None:
    try:
        with write_lock(), transaction.atomic():
            audit.record(action, **entry)
    except DatabaseError:
        logger.exception("The audit entry of %s (%s) could not be written", entry["target"], action)


def delete(*, sid: str, actor: audit.Actor = audit.SYSTEM) -> None:
    """Delete a message on Twilio, then its mirror row, media rows and cached files, and
    its place in its conversation, and record who deleted it.

    A message Twilio already forgot is still removed from the mirror; one neither knows
    is NotFound. Twilio refusing (e.g. 20009, still being processed) leaves the mirror
    untouched, so nothing disappears from the log that still exists on Twilio, and
    records nothing.
    """
    check_message_sid(sid)
    try:
        twilio_gateway.delete_message(sid)
        on_twilio = True
    except TwilioError as error:
        if error.http_status != 404:
            raise
        on_twilio = False
    with transaction.atomic():
        message = Message.objects.filter(sid=sid).first()
        if message is None and not on_twilio:
            raise NotFound(f"There is no message {sid}, here or on Twilio.")
        if message is not None:
            files = [item.file.name for item in message.media.all() if item.file]
            row = inbox.message_row(message)
            message.delete()
            inbox.message_deleted(row)
            # Files are not transactional: remove them only once the rows are surely gone.
            transaction.on_commit(lambda: _delete_files(files))
        audit.record(
            audit.Action.MESSAGE_DELETED,
            target=sid,
            actor=actor,
            patient_number=message.patient_number if message else "",
        )


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
