"""Inbound messages: store what Twilio delivered exactly once, then choose the auto-reply.

Twilio retries an inbound webhook that timed out or failed, so the same MessageSid can
arrive twice, even at the same moment. The unique constraint on Message.sid decides which
delivery is first; the others learn they are duplicates from the IntegrityError and send
no reply, so a patient never gets the same auto-reply twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from smsapp.models import AutoReplyRule, Media, Message
from smsapp.write_lock import write_lock


@dataclass(frozen=True)
class InboundMedia:
    sid: str
    uri: str  # the path of Twilio's MediaUrl, as our Media rows keep it
    content_type: str


def receive_message(
    *,
    sid: str,
    from_number: str,
    to_number: str,
    body: str = "",
    account_sid: str = "",
    messaging_service_sid: str = "",
    num_segments: int = 1,
    media: Sequence[InboundMedia] = (),
) -> Message | None:
    """Store an inbound message and its media rows in one transaction. Returns the new
    Message, or None when this MessageSid was already stored (a retried delivery)."""
    # Whole seconds, as Twilio writes its dates: otherwise the auto-reply (mirrored later
    # with Twilio's date of the same second) would sort before the text it answers.
    now = timezone.now().replace(microsecond=0)
    try:
        with write_lock(), transaction.atomic():
            message = Message.objects.create(
                sid=sid,
                account_sid=account_sid,
                messaging_service_sid=messaging_service_sid,
                direction=Message.Direction.INBOUND,
                from_number=from_number,
                to_number=to_number,
                body=body,
                status=Message.Status.RECEIVED,
                num_media=len(media),
                num_segments=num_segments,
                date_created=now,
                date_sent=now,
                date_updated=now,
            )
            # ignore_conflicts: a media SID sync_twilio already mirrored is not an error.
            Media.objects.bulk_create(
                [
                    Media(
                        sid=m.sid,
                        message=message,
                        content_type=m.content_type,
                        uri=m.uri,
                        date_created=now,
                    )
                    for m in media
                ],
                ignore_conflicts=True,
            )
    except IntegrityError:
        if Message.objects.filter(sid=sid).exists():
            return None
        raise
    return message


def choose_reply(*, body: str, opt_out_type: str = "") -> AutoReplyRule | None:
    """The rule whose reply answers `body`, if any. Twilio's Advanced Opt-Out marks the
    keywords it answered itself (STOP, START, HELP) with OptOutType: no second answer."""
    if opt_out_type:
        return None
    return AutoReplyRule.objects.reply_for(body)
