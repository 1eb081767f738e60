"""Consent: who may be texted, checked before every send, changed by keywords, by
Twilio's 21610 and by staff.

The state lives on Consent rows, one per patient number for all of the clinic's numbers
and one per (patient, our number): every change updates both, and CONSENT_SCOPE chooses
which one a send reads (`account`, the default: a STOP to any number stops all of them;
`number`: Twilio's own per-number rule). A change only moves a row whose current event
is older, so an old keyword found late (a sync) cannot undo a newer one.

Every sender goes through `send_permitted` (smsapp.services.messages.send: the API, the
page, scheduled texts); auto-replies, which Twilio sends from our TwiML, ask `is_opted_out`
(smsapp.services.replies).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from smsapp.lib.errors import OptedOut
from smsapp.lib.keywords import Keyword, keyword_of, word_of
from smsapp.lib.write_lock import write_lock
from smsapp.models import Consent, ConsentEvent, Message, Phone
from smsapp.models.consent import ALL_NUMBERS
from smsapp.services import audit, inbox

Source = ConsentEvent.Source

TWILIO_OPTED_OUT = 21610  # "Attempt to send to unsubscribed recipient"
# Consent is about phone numbers; a WhatsApp address ("whatsapp:+1…") is not one.
_E164 = re.compile(r"\+[1-9]\d{5,14}")


def scope_of(our_number: str) -> str:
    """The Consent.our_number a send from `our_number` reads (CONSENT_SCOPE)."""
    return ALL_NUMBERS if settings.CONSENT_SCOPE == "account" else our_number


# --- reading ------------------------------------------------------------------------------


def state(*, our_number: str, patient_number: str) -> Consent:
    """The patient's consent for texts from `our_number`: their row in the configured
    scope, or an unsaved one that allows texting when nothing was ever recorded."""
    key = scope_of(our_number)
    found = (
        Consent.objects.select_related("event__recorded_by")
        .filter(patient_number=patient_number, our_number=key)
        .first()
    )
    return found or Consent(patient_number=patient_number, our_number=key)


def is_opted_out(*, our_number: str, patient_number: str) -> bool:
    key = scope_of(our_number)
    return Consent.objects.filter(
        patient_number=patient_number, our_number=key, opted_out=True
    ).exists()


def check(*, our_number: str, patient_number: str) -> None:
    """Raise OptedOut when the patient may not be texted from `our_number` (no lock: for
    scheduling a text, which is checked again when it is sent)."""
    if is_opted_out(our_number=our_number, patient_number=patient_number):
        raise refusal(our_number=our_number, patient_number=patient_number)


def refusal(*, our_number: str, patient_number: str) -> OptedOut:
    """The answer to a send that was not made: when and how the patient opted out."""
    found = state(our_number=our_number, patient_number=patient_number)
    return OptedOut(found.information(refused=True))


def mark_opted_out(our_number: str, items: list[dict]) -> list[dict]:
    """Set `optedOut` on a page of conversations/<our_number>'s items."""
    opted_out = opted_out_numbers(our_number, [item["counterpart"] for item in items])
    for item in items:
        item["optedOut"] = item["counterpart"] in opted_out
    return items


def opted_out_numbers(our_number: str, numbers: Iterable[str]) -> set[str]:
    """Which of `numbers` may not be texted from `our_number`: one indexed query for a
    page of conversations (the inbox's `optedOut`)."""
    return set(
        Consent.objects.filter(
            our_number=scope_of(our_number), patient_number__in=list(numbers), opted_out=True
        )
        .order_by()
        .values_list("patient_number", flat=True)
    )


# --- the check every send makes ----------------------------------------------------------


@contextmanager
def send_permitted(*, our_number: str, patient_number: str) -> Iterator[None]:
    """Raise OptedOut if the patient may not be texted; otherwise run the block (the call
    to Twilio) while no opt-out can commit.

    A check before the call is not enough on its own: a STOP could commit between the
    check and the call. On PostgreSQL the block runs in a transaction holding a FOR SHARE
    lock on the patient's Consent row (created first if there is none, so there is a row
    to lock); recording an opt-out takes FOR UPDATE on that row (`record`), so it waits
    for sends already past their check, and sends that check after it committed see it.
    Sends to the same patient do not wait for each other (shared locks).

    On SQLite the block runs outside any transaction, after an unlocked check. SQLite has
    one writer at a time, and holding its write lock for as long as Twilio takes to answer
    (up to TWILIO_DEADLINE) would stop every webhook and status callback meanwhile. A STOP
    that commits within the microseconds between the check and the request can therefore
    still be followed by that one text; Twilio has already registered the STOP it
    forwarded to us, so it refuses the text (21610) unless it went from another of our
    numbers under CONSENT_SCOPE=account.
    """
    if connection.vendor != "postgresql":
        check(our_number=our_number, patient_number=patient_number)
        yield
        return
    with transaction.atomic():
        if _lock_for_send(patient_number, scope_of(our_number)):
            raise refusal(our_number=our_number, patient_number=patient_number)
        yield


def _lock_for_send(patient_number: str, key: str) -> bool:
    """Whether the patient opted out, read under FOR SHARE (PostgreSQL only; the ORM has
    no FOR SHARE, hence the SQL)."""
    table = connection.ops.quote_name(Consent._meta.db_table)
    sql = (
        f"SELECT opted_out FROM {table} "  # noqa: S608 - only the table name is formatted in
        "WHERE patient_number = %s AND our_number = %s FOR SHARE"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [patient_number, key])
        row = cursor.fetchone()
        if row is None:
            Consent.objects.bulk_create(
                [Consent(patient_number=patient_number, our_number=key)], ignore_conflicts=True
            )
            cursor.execute(sql, [patient_number, key])
            row = cursor.fetchone()
    return row[0]


# --- changes ------------------------------------------------------------------------------


def record(
    *,
    patient_number: str,
    our_number: str,
    opted_out: bool,
    source: str,
    at: datetime | None = None,
    keyword: str = "",
    message_sid: str = "",
    user=None,
    note: str = "",
) -> ConsentEvent:
    """Store a change and move the patient's Consent rows to it: the row for `our_number`
    and the clinic-wide one, or, for a change that names no number (staff, for all of
    them), every row of the patient. Rows whose event is newer keep theirs.

    Takes FOR UPDATE on those rows, in one order (clinic-wide first), so it waits for the
    sends holding them (send_permitted)."""
    at = at or timezone.now()
    with write_lock(), transaction.atomic():
        event = ConsentEvent.objects.create(
            at=at,
            patient_number=patient_number,
            our_number=our_number,
            opted_out=opted_out,
            source=source,
            keyword=keyword,
            message_sid=message_sid,
            recorded_by=user if user is not None and user.is_authenticated else None,
            note=note,
        )
        scopes = {ALL_NUMBERS, our_number}
        if not our_number and settings.CONSENT_SCOPE == "number":
            # A change for all numbers reaches each of ours, which is what a send reads here,
            # also where the patient never texted that number.
            scopes.update(_our_numbers())
        Consent.objects.bulk_create(
            [Consent(patient_number=patient_number, our_number=n) for n in sorted(scopes)],
            ignore_conflicts=True,
        )
        rows = Consent.objects.filter(patient_number=patient_number)
        if our_number:
            rows = rows.filter(our_number__in=scopes)
        locked = rows.select_for_update(of=("self",)).select_related("event").order_by("our_number")
        older = [row.pk for row in locked if row.event is None or row.event.at <= at]
        Consent.objects.filter(pk__in=older).update(opted_out=opted_out, event=event)
        inbox.patient_changed(patient_number)  # lists show `optedOut`: they look again
    return event


def record_keyword(message: Message, *, opt_out_type: str = "") -> ConsentEvent | None:
    """An inbound opt-out or opt-in keyword changes the patient's consent (called in the
    transaction that stores the message). Nothing for HELP or an ordinary text, nor for a
    keyword message already recorded."""
    keyword = keyword_of(message.body, opt_out_type=opt_out_type)
    if keyword not in (Keyword.OPT_OUT, Keyword.OPT_IN) or not _phones(
        message.from_number, message.to_number
    ):
        return None
    if ConsentEvent.objects.filter(source=Source.KEYWORD, message_sid=message.sid).exists():
        return None
    return record(
        patient_number=message.from_number,
        our_number=message.to_number,
        opted_out=keyword == Keyword.OPT_OUT,
        source=Source.KEYWORD,
        # Its arrival, now: date_created is cut to whole seconds, as Twilio writes dates,
        # and would count as older than a change made earlier in the same second.
        at=timezone.now(),
        keyword=word_of(message.body)[:32] or opt_out_type.upper(),
        message_sid=message.sid,
    )


def record_keywords_found(records: list[dict]) -> int:
    """Opt-out and opt-in keywords among message records a sync read (the webhook may
    have missed them, or they predate the app): recorded at the time they were sent,
    oldest first, once per message; a newer change keeps its place. Returns how many."""
    found = [
        (r["date_created"], r, keyword)
        for r in records
        if r["direction"] == Message.Direction.INBOUND
        and r["date_created"] is not None
        and (keyword := keyword_of(r["body"])) in (Keyword.OPT_OUT, Keyword.OPT_IN)
        and _phones(r["from_number"], r["to_number"])
    ]
    if not found:
        return 0
    seen = set(
        ConsentEvent.objects.filter(
            source=Source.KEYWORD, message_sid__in=[r["sid"] for _, r, _ in found]
        ).values_list("message_sid", flat=True)
    )
    new = [(at, r, keyword) for at, r, keyword in sorted(found, key=lambda f: f[0])
           if r["sid"] not in seen]  # fmt: skip
    for at, r, keyword in new:
        with suppress(IntegrityError):  # the webhook recorded it meanwhile
            record(
                patient_number=r["from_number"],
                our_number=r["to_number"],
                opted_out=keyword == Keyword.OPT_OUT,
                source=Source.KEYWORD,
                at=at,
                keyword=word_of(r["body"])[:32],
                message_sid=r["sid"],
            )
    return len(new)


def record_twilio_refusal(*, our_number: str, patient_number: str, message_sid: str = "") -> None:
    """Twilio refused a text with 21610, at once or in a status callback: the patient
    opted out on Twilio's side (a STOP we never saw, or one to another number of a shared
    Messaging Service). Recorded once per message."""
    if not _phones(our_number, patient_number):
        return
    with suppress(IntegrityError):  # this message's refusal is on record already
        record(
            patient_number=patient_number,
            our_number=our_number,
            opted_out=True,
            source=Source.TWILIO,
            message_sid=message_sid,
        )


def record_by_staff(
    *,
    patient_number: str,
    our_number: str = "",
    opted_out: bool,
    note: str,
    user,
    actor: audit.Actor = audit.SYSTEM,
) -> ConsentEvent:
    """Consent given (or withdrawn) on paper or by phone, recorded by staff with a note,
    and in the audit trail (target: the patient's number)."""
    with write_lock(), transaction.atomic():
        event = record(
            patient_number=patient_number,
            our_number=our_number,
            opted_out=opted_out,
            source=Source.STAFF,
            user=user,
            note=note.strip(),
        )
        audit.record(
            audit.Action.CONSENT_RECORDED,
            target=patient_number,
            actor=actor,
            patient_number=patient_number,
        )
    return event


def _our_numbers() -> list[str]:
    return [n for n in Phone.objects.values_list("phone_number", flat=True) if _phones(n)]


def _phones(*numbers: str) -> bool:
    return all(_E164.fullmatch(number) for number in numbers)
