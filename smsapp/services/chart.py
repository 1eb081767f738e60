"""Canvas learns from the app (docs/canvas.md): every text of a linked patient recorded in
their chart, and the unread total on the app's icon. Both go to the plugin's routes by
jobs, never while staff or Twilio wait; nothing happens without CANVAS_INSTANCE_URL.

A text is recorded once per message SID: `queue` (each new message) and `backfill` (a
number newly linked: its texts from before the link) add a ChartRecord and enqueue the job
`record_in_charts`, which the workers also run every minute (for the retries). It takes due
records with a conditional UPDATE (a lease, so two workers
never send one record at once, and a worker that died lets go of it) and keeps trying
with growing pauses until the plugin accepts. The plugin also answers a SID it already
recorded without recording it again, for the one case the app cannot see: an answer lost
after the plugin acted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from itertools import islice
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import F, Q
from django.utils import timezone
from django_tasks import task

from smsapp import canvas_gateway
from smsapp.lib import canvas_contract as contract
from smsapp.lib.write_lock import write_lock
from smsapp.models import AuditEvent, ChartRecord, Conversation, Message, NumberLink
from smsapp.models.canvas import CANVAS_USERNAME_PREFIX
from smsapp.services import inbox

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=canvas_gateway.TIMEOUT * 4)  # longer than any one call takes
LONGEST_PAUSE = timedelta(hours=1)
BATCH = 50  # records a worker takes at a time
PER_RUN = 500  # records one run of the job handles at most; the next run goes on
_NEVER_SENT = (Message.Status.FAILED, Message.Status.CANCELED)
_CHUNK = 1000


def _counterpart(direction: str, from_number: str, to_number: str) -> str:
    return Conversation.pair_of(direction, from_number, to_number)[1]


def queue(messages: list[dict[str, Any]]) -> None:
    """Messages stored for the first time (rows with sid, direction, from_number,
    to_number; in the transaction that stores them): those of a linked number wait for
    their chart, and an inbound one moves the badge."""
    if not canvas_gateway.is_configured() or not messages:
        return
    numbers = {m["sid"]: _counterpart(m["direction"], m["from_number"], m["to_number"])
               for m in messages if m["from_number"] and m["to_number"]}  # fmt: skip
    owners = NumberLink.objects.patients_of(sorted(set(numbers.values())))
    records = [
        ChartRecord(message_sid=sid, number=number)
        for sid, number in numbers.items()
        if owners[number].linked
    ]
    if records:
        ChartRecord.objects.bulk_create(records, ignore_conflicts=True)
        record_in_charts.enqueue()
    if any(m["direction"] == Message.Direction.INBOUND for m in messages):
        unread_changed()


def backfill(numbers: Iterable[str]) -> None:
    """The texts of `numbers` (linked now) from before: they wait for their chart too, and
    those skipped while a number was not linked are taken up again."""
    if not canvas_gateway.is_configured():
        return
    owners = NumberLink.objects.patients_of(sorted(set(numbers)))
    linked = [number for number, owner in owners.items() if owner.linked]
    if not linked:
        return
    waiting = ChartRecord.objects.filter(number__in=linked, state=ChartRecord.State.SKIPPED).update(
        state=ChartRecord.State.PENDING, next_attempt_at=timezone.now(), error=""
    )
    texts = Message.objects.filter(
        Q(direction=Message.Direction.INBOUND, from_number__in=linked)
        | (~Q(direction=Message.Direction.INBOUND) & Q(to_number__in=linked))
    ).values_list("sid", "direction", "from_number", "to_number")
    rows = texts.iterator(chunk_size=_CHUNK)
    while batch := [
        ChartRecord(message_sid=sid, number=_counterpart(direction, from_number, to_number))
        for sid, direction, from_number, to_number in islice(rows, _CHUNK)
    ]:
        ChartRecord.objects.bulk_create(batch, ignore_conflicts=True)  # recorded ones stay
        waiting += len(batch)
    if waiting:
        record_in_charts.enqueue()


# --- the job ---------------------------------------------------------------------------------


@task()
def record_in_charts() -> int:
    """Send the due records to the plugin, a batch at a time; how many it accepted."""
    accepted = handled = 0
    while handled < PER_RUN and (batch := _take(BATCH)):
        for record in batch:
            accepted += _send(record)
        handled += len(batch)
    return accepted


def _take(limit: int) -> list[ChartRecord]:
    """Up to `limit` due pending records, each leased by one conditional UPDATE: another
    worker that read the same rows takes none of those this one took."""
    now = timezone.now()
    due = ChartRecord.objects.filter(state=ChartRecord.State.PENDING, next_attempt_at__lte=now)
    taken = []
    for record in due.order_by("next_attempt_at")[:limit]:
        with write_lock():
            won = ChartRecord.objects.filter(
                pk=record.pk,
                state=ChartRecord.State.PENDING,
                next_attempt_at=record.next_attempt_at,
            ).update(next_attempt_at=now + LEASE, attempts=F("attempts") + 1)
        if won:
            record.attempts += 1
            taken.append(record)
    return taken


def _send(record: ChartRecord) -> int:
    """One record to the plugin; 1 when it accepted."""
    message = Message.objects.filter(sid=record.message_sid).first()
    patient_id = NumberLink.objects.patient_id_of(record.number)
    if message is None:
        return _skip(record, "the message is no longer in the mirror")
    if not patient_id:
        return _skip(record, "the number is not linked to a patient")
    if message.status in _NEVER_SENT:
        return _skip(record, "the text was never sent")
    ours = (
        message.from_number if message.direction != Message.Direction.INBOUND else message.to_number
    )
    body = contract.record_body(
        sid=message.sid,
        patient_id=patient_id,
        direction="inbound" if message.direction == Message.Direction.INBOUND else "outbound",
        body=message.body,
        media=message.num_media,
        at=message.date_created,
        staff_id=_sender(message),
        our_number=ours,
        patient_number=record.number,
    )
    try:
        canvas_gateway.call("record", body=body)
    except canvas_gateway.CanvasError as error:
        pause = min(timedelta(minutes=2 ** (record.attempts - 1)), LONGEST_PAUSE)
        log.warning(
            "Recording %s in a chart failed (try %d): %s",
            record.message_sid,
            record.attempts,
            error,
        )
        _finish(record, error=str(error), next_attempt_at=timezone.now() + pause)
        return 0
    _finish(
        record,
        state=ChartRecord.State.RECORDED,
        error="",
        patient_id=patient_id,
        recorded_at=timezone.now(),
    )
    return 1


def _skip(record: ChartRecord, why: str) -> int:
    _finish(record, state=ChartRecord.State.SKIPPED, error=why)
    return 0


def _finish(record: ChartRecord, **fields: Any) -> None:
    with write_lock():
        ChartRecord.objects.filter(pk=record.pk, state=ChartRecord.State.PENDING).update(**fields)


def _sender(message: Message) -> str:
    """The Canvas staff id of who sent an outbound text (the audit trail knows who), or ""
    for a text no Canvas user sent (a scheduled one, an auto-reply, one sent elsewhere)."""
    if message.direction == Message.Direction.INBOUND:
        return ""
    actor = (
        AuditEvent.objects.filter(action=AuditEvent.Action.MESSAGE_SENT, target=message.sid)
        .values_list("actor", flat=True)
        .first()
    ) or ""
    return (
        actor.removeprefix(CANVAS_USERNAME_PREFIX)
        if actor.startswith(CANVAS_USERNAME_PREFIX)
        else ""
    )


# --- the badge -------------------------------------------------------------------------------


def unread_changed() -> None:
    """Inbound texts arrived or staff read some (in that write's transaction): the badge's
    count goes to Canvas by a job."""
    if canvas_gateway.is_configured():
        push_badge.enqueue()


@task()
def push_badge() -> int:
    """The unread total (conversations with unread texts) to the plugin's badge; it is
    read when the job runs, so a burst of texts sends the newest count."""
    unread = inbox.counts()["unread"]
    staff = _badge_staff()
    if staff is None:
        return unread
    try:
        canvas_gateway.call("badge", body=contract.badge_body(unread=unread, staff_ids=staff))
    except canvas_gateway.CanvasError as error:  # the next text or read sets it again
        log.warning("The unread badge could not be set: %s", error)
    return unread


def _badge_staff() -> list[str] | None:
    """Who sees the badge: everyone ([]) when every Canvas staff member may open the app
    (CANVAS_DEFAULT_GROUP), else the Canvas staff whose app user may read messages (None:
    no one may)."""
    if settings.CANVAS_DEFAULT_GROUP:
        return []
    users = get_user_model().objects.filter(
        is_active=True, username__startswith=CANVAS_USERNAME_PREFIX
    )
    staff = sorted(
        user.username.removeprefix(CANVAS_USERNAME_PREFIX)
        for user in users
        if user.has_perm("smsapp.view_message")
    )
    return staff or None
