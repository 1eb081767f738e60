"""Bring the local mirror up to date from Twilio: phone numbers, messages, media metadata.

Upserts by SID and counts what it created, updated and left unchanged, so running it twice
changes nothing the second time. Messages are read one page at a time and each page is
written in its own transaction: a failure on page N keeps pages 1..N-1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Max
from django.utils import timezone

from smsapp import twilio_gateway
from smsapp.models import Media, Message, Phone

# Twilio lists newest first and keeps changing a message's status after it was sent, so an
# incremental run starts this far before the newest date_sent already mirrored.
DEFAULT_OVERLAP = timedelta(days=2)

PHONE_FIELDS = [f.name for f in Phone._meta.concrete_fields if f.name not in {"id", "sid"}]
MESSAGE_FIELDS = [f.name for f in Message._meta.concrete_fields if f.name not in {"id", "sid"}]
MEDIA_FIELDS = ["content_type", "uri", "date_created"]


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    def add(self, other: Counts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.removed += other.removed

    def __str__(self) -> str:
        text = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        return f"{text}, {self.removed} removed" if self.removed else text


@dataclass
class SyncResult:
    phones: Counts = field(default_factory=Counts)
    messages: Counts = field(default_factory=Counts)
    media: Counts = field(default_factory=Counts)
    pages: int = 0
    since: date | None = None


PageCallback = Callable[[int, int, SyncResult], None]


def sync_phones() -> Counts:
    """Mirror every phone number of the account; numbers released on Twilio are removed."""
    counts = Counts()
    records = list(twilio_gateway.list_phone_numbers())  # an account has few numbers
    now = timezone.now()
    existing = {p.sid: p for p in Phone.objects.all()}
    with transaction.atomic():
        for record in records:
            phone = existing.pop(record["sid"], None)
            if phone is None:
                Phone.objects.create(**record, synced_at=now)
                counts.created += 1
                continue
            changed = [name for name, value in record.items() if getattr(phone, name) != value]
            phone.synced_at = now
            if changed:
                for name in changed:
                    setattr(phone, name, record[name])
                counts.updated += 1
            else:
                counts.unchanged += 1
            phone.save(update_fields=[*changed, "synced_at"])
        if existing:
            counts.removed = Phone.objects.filter(sid__in=existing).delete()[0]
    return counts


def incremental_start(overlap: timedelta = DEFAULT_OVERLAP) -> date | None:
    """The DateSent to list from, or None for everything (an empty mirror)."""
    newest = Message.objects.aggregate(newest=Max("date_sent"))["newest"]
    return (newest - overlap).date() if newest else None


def upsert_messages(records: list[dict[str, Any]]) -> Counts:
    """Create or update one page of message records in a single statement."""
    counts = Counts()
    sids = [r["sid"] for r in records]
    existing = {
        row[0]: row[1:]
        for row in Message.objects.filter(sid__in=sids).values_list("sid", *MESSAGE_FIELDS)
    }
    to_write = []
    for record in records:
        current = existing.get(record["sid"])
        if current is None:
            counts.created += 1
        elif current != tuple(record[name] for name in MESSAGE_FIELDS):
            counts.updated += 1
        else:
            counts.unchanged += 1
            continue
        to_write.append(Message(**record))
    if to_write:
        Message.objects.bulk_create(
            to_write, update_conflicts=True, unique_fields=["sid"], update_fields=MESSAGE_FIELDS
        )
    return counts


def sync_media(message_sids: list[str]) -> Counts:
    """Mirror media metadata for those messages that have fewer media rows than Twilio
    says they carry (one Twilio call per such message; the bytes are fetched on demand)."""
    counts = Counts()
    missing = (
        Message.objects.filter(sid__in=message_sids, num_media__gt=0)
        .annotate(mirrored=Count("media"))
        .filter(mirrored__lt=F("num_media"))
        .values_list("id", "sid")
    )
    for message_id, message_sid in missing:
        records = twilio_gateway.list_media(message_sid)
        known = set(Media.objects.filter(message_id=message_id).values_list("sid", flat=True))
        new = [Media(message_id=message_id, **r) for r in records if r["sid"] not in known]
        Media.objects.bulk_create(new, ignore_conflicts=True)
        counts.created += len(new)
        counts.unchanged += len(records) - len(new)
    return counts


def sync_messages(*, since: date | None = None, on_page: PageCallback | None = None) -> SyncResult:
    """Mirror messages sent on or after `since` (all of them when None)."""
    result = SyncResult(since=since)
    for records in twilio_gateway.iter_message_pages(date_sent_after=since):
        with transaction.atomic():
            result.messages.add(upsert_messages(records))
            mms = [r["sid"] for r in records if r["num_media"]]
            if mms:
                result.media.add(sync_media(mms))
        result.pages += 1
        if on_page:
            on_page(result.pages, len(records), result)
    return result


def sync_all(
    *, full: bool = False, since: date | None = None, on_page: PageCallback | None = None
) -> SyncResult:
    """Phones, then messages: everything with `full`, from `since` when given, otherwise
    incrementally from the newest mirrored message."""
    phones = sync_phones()
    if not full and since is None:
        since = incremental_start()
    result = sync_messages(since=since, on_page=on_page)
    result.phones = phones
    return result
