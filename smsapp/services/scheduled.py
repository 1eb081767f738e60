"""Texts to send later (sms_send's `sendAt`, the page's "Send later"), each exactly once.

Scheduling runs every check a send now runs (numbers, capability, text, the patient's
consent), then stores a ScheduledMessage and queues a job for its due time. At that time
a worker claims it with one conditional UPDATE (pending → sending), so of any number of
workers, or of jobs for the same text, exactly one sends it, and a text cancelled
meanwhile is never sent. It then goes through the same send path as staff's sends
(smsapp.services.messages.send).

- A transient failure, where Twilio certainly did nothing (rate limited, no
  connection), is tried again later by queueing the job again, up to MAX_TRIES.
- An unknown outcome (Twilio did not answer after the request left) is never tried
  again: the text is `unknown` until its SendAttempt is looked up on Twilio.
- A worker that died between claiming and finishing leaves it `sending`; recover_stuck
  treats that as an unknown outcome too.
- Due inside the patient's quiet hours, it waits for their end (held_until); to a
  patient who opted out since, it fails with the reason and is never sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_tasks import task

from smsapp.lib import hours
from smsapp.lib.errors import Conflict, InvalidInput, NotFound, OptedOut
from smsapp.lib.validation import uuid_or_404
from smsapp.models import ScheduledMessage, SendAttempt
from smsapp.services import audit, consent, directory, lookup, messages
from smsapp.twilio_gateway import TwilioError

State = ScheduledMessage.State

MAX_TRIES = 5
FIRST_RETRY = timedelta(minutes=1)  # doubles with each try
STUCK_AFTER = timedelta(minutes=10)  # far longer than a send's timeout and retries
LIST_LIMIT = 200


def schedule(
    *,
    from_: str,
    to: str,
    text: str,
    send_at: datetime,
    from_sid: str = "",
    media_urls: list[str] | None = None,
    callback_url: str = "",
    user=None,
    actor: audit.Actor = audit.SYSTEM,
) -> ScheduledMessage:
    """Store a text to send at `send_at` (already checked by validation.send_at), queue
    its job and record who scheduled it. The number and the patient's consent are
    checked now, as for a send now, and again when it is sent."""
    messages.check_sender(from_=from_, from_sid=from_sid, media_urls=media_urls)
    consent.check(our_number=from_, patient_number=to)
    with transaction.atomic():
        item = ScheduledMessage.objects.create(
            from_number=from_,
            to_number=to,
            body=text,
            media_urls=media_urls or [],
            callback_url=callback_url,
            send_at=send_at,
            created_by=user if user is not None and user.is_authenticated else None,
        )
        _queue(item, send_at)
        audit.record(
            audit.Action.MESSAGE_SCHEDULED, target=str(item.pk), actor=actor, patient_number=to
        )
    return item


def _queue(item: ScheduledMessage, at: datetime) -> None:
    send_scheduled.using(run_after=at).enqueue(str(item.pk))


def pending(*, number: str, counterpart: str | None = None) -> list[ScheduledMessage]:
    """The texts still to be sent from `number` (to `counterpart`), soonest first."""
    items = ScheduledMessage.objects.filter(from_number=number, state=State.PENDING)
    if counterpart:
        items = items.filter(to_number=counterpart)
    return list(items.select_related("created_by").order_by("send_at")[:LIST_LIMIT])


_NOT_CANCELLABLE = {
    State.SENDING: "This text is being sent right now and can no longer be cancelled.",
    State.SENT: "This text has already been sent.",
    State.UNKNOWN: "This text may already have been sent; the log will show it shortly.",
    State.FAILED: "This text was not sent (it failed); there is nothing to cancel.",
    State.CANCELLED: "This text was already cancelled.",
}


def cancel(*, scheduled_id: str, user=None, actor: audit.Actor = audit.SYSTEM) -> ScheduledMessage:
    """Cancel a pending text and record who did. Any member of staff who may send may
    cancel any pending text of the clinic (a colleague's included: the clinic speaks
    with one voice)."""
    key = uuid_or_404(scheduled_id)
    with transaction.atomic():
        cancelled = ScheduledMessage.objects.filter(pk=key, state=State.PENDING).update(
            state=State.CANCELLED,
            cancelled_by=user if user is not None and user.is_authenticated else None,
            updated_at=timezone.now(),
        )
        item = ScheduledMessage.objects.filter(pk=key).first()
        if cancelled:
            audit.record(
                audit.Action.SCHEDULED_CANCELLED,
                target=str(key),
                actor=actor,
                patient_number=item.to_number,
            )
    if item is None:
        raise NotFound(f"There is no scheduled text {key}.")
    if not cancelled:
        raise Conflict(_NOT_CANCELLABLE[item.state])
    return item


def held_until(item: ScheduledMessage, now: datetime) -> datetime | None:
    """May this text go out now? None if so, else the earliest time it may.

    The one place where rules about *when* the app may text a patient on its own apply:
    inside the patient's quiet hours (QUIET_HOURS in their local time: their chart's time
    zone, else their number's) it waits for the window's end. Whether it may be sent at
    all (an opt-out) is the send path's question, asked for every send
    (smsapp.services.messages.send)."""
    zone, _ = directory.time_zone_of(item.to_number)
    return hours.quiet_hours_end(zone, now)


def send_due(scheduled_id: str) -> str:
    """The job at a text's due time: claim it, send it once, record the outcome."""
    now = timezone.now()
    item = ScheduledMessage.objects.filter(pk=scheduled_id).select_related("created_by").first()
    if item is None or item.state != State.PENDING:
        return f"nothing to do: {item.state if item else 'deleted'}"
    if item.send_at > now:
        return "not due yet"  # moved later; the job queued for then sends it
    later = held_until(item, now)
    if later is not None:
        held = ScheduledMessage.objects.filter(pk=item.pk, state=State.PENDING)
        if held.update(send_at=later, updated_at=now):
            _queue(item, later)
        return f"held until {later.isoformat()}"
    claimed = ScheduledMessage.objects.filter(
        pk=item.pk, state=State.PENDING, send_at__lte=now
    ).update(state=State.SENDING, attempts=F("attempts") + 1, updated_at=now)
    if not claimed:
        return "taken: cancelled or claimed meanwhile"
    item.attempts += 1
    return _send(item)


def _send(item: ScheduledMessage) -> str:
    try:
        message = messages.send(
            from_=item.from_number,
            to=item.to_number,
            text=item.body,
            media_urls=item.media_urls,
            callback_url=item.callback_url,
            user=item.created_by,
            actor=audit.SYSTEM,  # the job sends it; the "message scheduled" entry says who asked
        )
    except messages.OutcomeUnknown as unknown:
        SendAttempt.objects.filter(pk=unknown.attempt.pk).update(scheduled=item)
        _finish(item, State.UNKNOWN, error=str(unknown))
        return "outcome unknown: looking it up"
    except TwilioError as error:
        if error.transient and item.attempts < MAX_TRIES:
            retry_at = timezone.now() + FIRST_RETRY * 2 ** (item.attempts - 1)
            _finish(item, State.PENDING, error=f"Try {item.attempts}: {error.message}")
            _queue(item, retry_at)
            return f"retrying at {retry_at.isoformat()}"
        _finish(item, State.FAILED, error=error.message)
        return "failed"
    except InvalidInput as problem:  # the number changed since it was scheduled
        _finish(item, State.FAILED, error=problem.information)
        return "failed"
    except OptedOut as refusal:  # never sent: the patient opted out since
        _finish(item, State.FAILED, error=str(refusal))
        return "failed: opted out"
    _finish(item, State.SENT, message_sid=message.sid, error="")
    return f"sent: {message.sid}"


def _finish(item: ScheduledMessage, state: str, **fields) -> None:
    ScheduledMessage.objects.filter(pk=item.pk, state=State.SENDING).update(
        state=state, updated_at=timezone.now(), **fields
    )


def recover_stuck(now: datetime | None = None) -> int:
    """Texts left `sending` by a worker that died: Twilio may or may not have them, so
    they are looked up like any unknown outcome, never sent again."""
    now = now or timezone.now()
    stuck = ScheduledMessage.objects.filter(
        state=State.SENDING, updated_at__lt=now - STUCK_AFTER
    ).select_related("created_by")
    recovered = 0
    for item in stuck:
        with transaction.atomic():
            if not _finish_stuck(item, now):
                continue
            attempt = lookup.record_unknown(
                from_=item.from_number,
                to=item.to_number,
                body=item.body,
                media_urls=item.media_urls,
                attempted_at=item.updated_at,
                user=item.created_by,
            )
            SendAttempt.objects.filter(pk=attempt.pk).update(scheduled=item)
        recovered += 1
    return recovered


def _finish_stuck(item: ScheduledMessage, now: datetime) -> bool:
    return bool(
        ScheduledMessage.objects.filter(
            pk=item.pk, state=State.SENDING, updated_at=item.updated_at
        ).update(
            state=State.UNKNOWN,
            error="The worker sending it stopped midway; looking it up on Twilio.",
            updated_at=now,
        )
    )


@task()
def send_scheduled(scheduled_id: str) -> str:
    """The job at a text's due time: sent exactly once, or retried, or held."""
    return send_due(scheduled_id)


@task()
def recover_stuck_sends() -> int:
    """The periodic job for texts a dead worker left `sending`: looked up, never resent."""
    return recover_stuck()
