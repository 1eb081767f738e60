"""The audit trail: the one place that writes it (`record`), reads it out (`export`)
and purges what is past its retention (`purge`).

Each service records its action where the action is done, inside the transaction that
writes the action's own rows, so an action that fails leaves no entry and one that
happened always has its entry. An action that is a Twilio call is recorded in the
transaction that mirrors Twilio's answer; a refusal (Twilio's, a 409, a bad request)
records nothing. Reads with no write of their own (opening a conversation, viewing a
picture) are recorded once what was asked for has been read.

Who did it is an Actor: the signed-in user of a request (with the client's address, the
request's id and the patient of the chart the session was opened from), or `system` for
jobs. Never a message body, never a token.
"""

from __future__ import annotations

import csv
import io
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_tasks import task

from smsapp.lib.client_ip import client_ip
from smsapp.lib.write_lock import write_lock
from smsapp.models import AuditEvent, AuditRetention, NumberLink

Action = AuditEvent.Action


@dataclass(frozen=True)
class Actor:
    """Who does an action: a username or one of AuditEvent.MACHINES, and for a request
    where it came from."""

    name: str
    ip: str | None = None
    request_id: str = ""

    @classmethod
    def of(cls, request: HttpRequest | None, *, name: str | None = None) -> Actor:
        """The actor of a request: its signed-in user (or `name`, e.g. a Canvas user
        before their session exists), the client's address as smsapp.lib.client_ip
        reads it (BEHIND_PROXY) and the request id (RequestIdMiddleware)."""
        if request is None:
            return cls(name or AuditEvent.ANONYMOUS)
        if name is None:
            user = getattr(request, "user", None)
            name = user.get_username() if user and user.is_authenticated else AuditEvent.ANONYMOUS
        return cls(
            name=name,
            ip=_address(client_ip(request.META, trusted_proxies=settings.BEHIND_PROXY)),
            request_id=getattr(request, "request_id", ""),
        )


SYSTEM = Actor(AuditEvent.SYSTEM)


def _address(value: str) -> str | None:
    """An address the column can hold; anything else (no peer, a proxy's garbage) None."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def record(
    action: str,
    *,
    target: str = "",
    actor: Actor | None = None,
    request: HttpRequest | None = None,
    patient: str | None = None,
    patient_number: str = "",
) -> AuditEvent:
    """Write one entry, in the caller's transaction. Who: `actor`, or the actor of
    `request`. The patient: `patient` (a Canvas id), else the one `patient_number` is
    linked to in the patient directory."""
    if (actor is None) == (request is None):
        raise TypeError("audit.record needs either actor or request")
    who = actor or Actor.of(request)
    if patient is None:
        patient = NumberLink.objects.patient_id_of(patient_number) if patient_number else ""
    # On its own (a read), the write queues behind SQLite's other writers; inside the
    # action's transaction, write_lock does nothing (that transaction holds the lock).
    with write_lock():
        return AuditEvent.objects.create(
            action=action,
            actor=who.name[:150],
            target=target[:200],
            patient=patient[:64],
            ip=who.ip,
            request_id=who.request_id[:64],
        )


# --- sign-in and sign-out ------------------------------------------------------------------
# Django's auth signals are the one place every sign-in passes (the page's /login/, the
# admin's, a test's force_login) and every sign-out: connected in apps.py. They fire
# inside django.contrib.auth.login/logout, so a failed write fails the sign-in.


def signed_in(sender, request, user, **kwargs) -> None:
    record(
        Action.SIGNED_IN, target=_where(request), actor=Actor.of(request, name=user.get_username())
    )


def signed_out(sender, request, user, **kwargs) -> None:
    if user is not None:  # signing out with no session is not an action
        record(
            Action.SIGNED_OUT,
            target=_where(request),
            actor=Actor.of(request, name=user.get_username()),
        )


def sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    """A wrong password or an unknown name: the name typed is the target (Django has
    already removed the password from `credentials`)."""
    record(
        Action.SIGN_IN_FAILED, target=str(credentials.get("username", "")), actor=Actor.of(request)
    )


def _where(request: HttpRequest | None) -> str:
    return request.path if request is not None and request.path else ""


# --- the export ------------------------------------------------------------------------------

COLUMNS = ("at", "actor", "action", "target", "patient", "ip", "request_id")
EXPORT_CHUNK = 2000  # rows per database fetch and per piece of the streamed answer
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export(*, since: date, until: date, actor: Actor) -> Iterator[str]:
    """The entries of the days `since` to `until` (both included, in TIME_ZONE), oldest
    first, as CSV in pieces of EXPORT_CHUNK rows: memory stays the same whatever the
    range holds. The export is recorded now (target: the range), before a row is read."""
    record(Action.EXPORT_DOWNLOADED, target=f"{since}..{until}", actor=actor)
    start, end = _midnight(since), _midnight(until + timedelta(days=1))
    rows = (
        AuditEvent.objects.filter(at__gte=start, at__lt=end)
        .order_by("at", "id")
        .values_list(*COLUMNS)
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    return _csv(rows)


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _csv(rows) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for n, (at, actor, action, target, patient, ip, request_id) in enumerate(rows, 1):
        writer.writerow(
            (at.isoformat(), _cell(actor), action, _cell(target), _cell(patient), ip or "",
             _cell(request_id))
        )  # fmt: skip
        if n % EXPORT_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(value: str) -> str:
    """A value a spreadsheet shows as text: "+14155550123" becomes "'+14155550123"."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


# --- retention -------------------------------------------------------------------------------

PURGE_BATCH = 10_000
# The delete trigger compares with the database's clock, the purge with this process's:
# staying an hour inside the retention keeps a small difference from failing the purge.
CLOCK_MARGIN = timedelta(hours=1)


def purge(now: datetime | None = None) -> int:
    """Delete the entries older than AUDIT_RETENTION_DAYS, after telling the delete
    trigger that retention (AuditRetention), in batches so no transaction holds the
    table long. Returns how many were deleted."""
    days = settings.AUDIT_RETENTION_DAYS
    AuditRetention.objects.update_or_create(pk=1, defaults={"days": days})
    cutoff = (now or timezone.now()) - timedelta(days=days) - CLOCK_MARGIN
    old = AuditEvent.objects.filter(at__lt=cutoff).order_by("at", "id")
    deleted = 0
    while ids := list(old.values_list("id", flat=True)[:PURGE_BATCH]):
        with write_lock(), transaction.atomic():
            deleted += AuditEvent.objects.filter(id__in=ids).delete()[0]
    return deleted


@task()
def purge_audit_events() -> int:
    """The daily job that deletes audit entries past AUDIT_RETENTION_DAYS."""
    return purge()
