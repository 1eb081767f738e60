"""Sends whose outcome is unknown: Twilio did not answer after the request left, so the
text may have gone out. The app never sends it again; it records what was attempted
(a SendAttempt) and looks for it on Twilio (by From, To and body, created around the
attempt), mirrors it when found, and says "not sent" when Twilio still has no such
message a few minutes later (staff may then send it again).

A job looks (look_up, first LOOK_AFTER after the attempt, then every LOOK_EVERY); every
sync also matches attempts against what it mirrored (resolve_from_mirror), so
`sync_twilio` finds them too.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from smsapp import twilio_gateway
from smsapp.models import Message, ScheduledMessage, SendAttempt
from smsapp.services import audit
from smsapp.services.mirror import mirror_message
from smsapp.twilio_gateway import TwilioError

logger = logging.getLogger(__name__)

LOOK_AFTER = timedelta(seconds=15)  # Twilio lists a new message within seconds
LOOK_EVERY = timedelta(seconds=30)
# Twilio has no such message this long after the attempt: it was not sent.
NOT_SENT_AFTER = timedelta(minutes=5)
# While Twilio cannot be reached, keep looking this long; later syncs still match it.
KEEP_LOOKING_FOR = timedelta(hours=1)
# Twilio's clock and ours differ a little: a message it created slightly "before" our
# attempt is still the one.
CLOCK_SKEW = timedelta(minutes=1)
# The send's request left at the attempt; Twilio created the message within its timeout.
CREATED_WITHIN = timedelta(minutes=5)
LIST_PAGE_SIZE = 50  # the newest messages between the two numbers are enough


def record_unknown(
    *,
    from_: str,
    to: str,
    body: str,
    media_urls: list[str],
    attempted_at: datetime,
    user=None,
    actor: audit.Actor = audit.SYSTEM,
) -> SendAttempt:
    """Keep what was attempted, record in the audit trail that `actor` attempted it, and
    queue the first lookup (which records the send, by `system`, once it finds it)."""
    with transaction.atomic():
        attempt = SendAttempt.objects.create(
            from_number=from_,
            to_number=to,
            body=body,
            media_urls=media_urls,
            attempted_at=attempted_at,
            created_by=user if user is not None and user.is_authenticated else None,
        )
        audit.record(
            audit.Action.MESSAGE_SEND_UNKNOWN,
            target=str(attempt.pk),
            actor=actor,
            patient_number=to,
        )
        _look_again(attempt, LOOK_AFTER)
    logger.warning("Send %s: outcome unknown; looking it up on Twilio", attempt.pk)
    return attempt


def _look_again(attempt: SendAttempt, delay: timedelta) -> None:
    look_up_send.using(run_after=timezone.now() + delay).enqueue(str(attempt.pk))


def look_up(attempt_id: str) -> str:
    """One lookup of a checking attempt: in the mirror first (a sync may have found it),
    then on Twilio. Found: mirrored and resolved. Not there: looked for again, until
    NOT_SENT_AFTER says it was not sent."""
    attempt = SendAttempt.objects.filter(pk=attempt_id, state=SendAttempt.State.CHECKING).first()
    if attempt is None:
        return "already resolved"
    if (sid := _in_mirror(attempt)) is not None:
        _resolve(attempt, SendAttempt.State.FOUND, sid)
        return f"found in the mirror: {sid}"
    now = timezone.now()
    attempt.checks += 1
    try:
        record, attempt.error = _on_twilio(attempt), ""
    except TwilioError as error:
        record, attempt.error = None, error.message
    attempt.save(update_fields=["checks", "error"])
    if record is not None:
        mirror_message(record)
        _resolve(attempt, SendAttempt.State.FOUND, record["sid"])
        return f"found on Twilio: {record['sid']}"
    if attempt.error:
        if now - attempt.attempted_at < KEEP_LOOKING_FOR:
            _look_again(attempt, LOOK_EVERY)
        return f"lookup failed: {attempt.error}"
    if now - attempt.attempted_at >= NOT_SENT_AFTER:
        _resolve(attempt, SendAttempt.State.NOT_SENT)
        return "not sent"
    _look_again(attempt, LOOK_EVERY)
    return "not there yet"


def resolve_from_mirror() -> int:
    """Resolve checking attempts whose message a sync has mirrored since."""
    found = 0
    for attempt in SendAttempt.objects.filter(state=SendAttempt.State.CHECKING):
        if (sid := _in_mirror(attempt)) is not None:
            _resolve(attempt, SendAttempt.State.FOUND, sid)
            found += 1
    return found


def _taken(attempt: SendAttempt, sids: list[str]) -> set[str]:
    """Those of `sids` already matched to another attempt or a scheduled send between
    the same numbers (the same words sent twice are two messages)."""
    pair = {"from_number": attempt.from_number, "to_number": attempt.to_number}
    attempts = SendAttempt.objects.filter(**pair, message_sid__in=sids).exclude(pk=attempt.pk)
    scheduled = ScheduledMessage.objects.filter(**pair, message_sid__in=sids)
    return set(attempts.values_list("message_sid", flat=True)) | set(
        scheduled.values_list("message_sid", flat=True)
    )


def _window(attempt: SendAttempt) -> tuple[datetime, datetime]:
    return attempt.attempted_at - CLOCK_SKEW, attempt.attempted_at + CREATED_WITHIN


def _in_mirror(attempt: SendAttempt) -> str | None:
    start, end = _window(attempt)
    # One range scan of message_pair_newest.
    candidates = Message.objects.filter(
        from_number=attempt.from_number,
        to_number=attempt.to_number,
        date_created__gte=start,
        date_created__lte=end,
    ).order_by("date_created", "id")
    same = [sid for sid, body in candidates.values_list("sid", "body") if _same(body, attempt)]
    taken = _taken(attempt, same) if same else set()
    return next((sid for sid in same if sid not in taken), None)


def _on_twilio(attempt: SendAttempt) -> dict[str, Any] | None:
    """The message Twilio created for the attempt, from the newest messages between the
    two numbers (listed without a DateSent filter: a message still queued has none)."""
    pages = twilio_gateway.iter_message_pages(
        from_=attempt.from_number, to=attempt.to_number, page_size=LIST_PAGE_SIZE
    )
    newest = next(pages, [])
    start, end = _window(attempt)
    matches = [
        record
        for record in newest
        if record["date_created"]
        and start <= record["date_created"] <= end
        and _same(record["body"], attempt)
    ]
    taken = _taken(attempt, [record["sid"] for record in matches]) if matches else set()
    matches = [record for record in matches if record["sid"] not in taken]
    return min(matches, key=lambda record: record["date_created"]) if matches else None


def _same(body: str, attempt: SendAttempt) -> bool:
    return body.strip() == attempt.body.strip()


def _resolve(attempt: SendAttempt, state: str, sid: str = "") -> None:
    """Record the outcome, on the attempt and on the scheduled send it came from; a
    send found is in the audit trail from then on ("message sent", by `system`)."""
    with transaction.atomic():
        moved = SendAttempt.objects.filter(pk=attempt.pk, state=SendAttempt.State.CHECKING).update(
            state=state, message_sid=sid, resolved_at=timezone.now(), error=""
        )
        if moved and state == SendAttempt.State.FOUND:
            audit.record(
                audit.Action.MESSAGE_SENT,
                target=sid,
                actor=audit.SYSTEM,
                patient_number=attempt.to_number,
            )
        if not moved or attempt.scheduled_id is None:
            return
        scheduled = ScheduledMessage.objects.filter(
            pk=attempt.scheduled_id, state=ScheduledMessage.State.UNKNOWN
        )
        if state == SendAttempt.State.FOUND:
            scheduled.update(
                state=ScheduledMessage.State.SENT,
                message_sid=sid,
                error="",
                updated_at=timezone.now(),
            )
        else:
            scheduled.update(
                state=ScheduledMessage.State.FAILED,
                error="Twilio did not answer and has no such message: it was not sent. "
                "Schedule it again if it is still needed.",
                updated_at=timezone.now(),
            )


@task()
def look_up_send(attempt_id: str) -> str:
    """The job that looks a send up on Twilio (queued by record_unknown and by itself)."""
    return look_up(attempt_id)
