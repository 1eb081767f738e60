"""Bring the local mirror up to date from Twilio: phone numbers, messages, media metadata.

Writes through smsapp.services.mirror, which upserts by SID and counts what it created,
updated and left unchanged, so running it twice changes nothing the second time. Messages
are read one page at a time and each page is written in its own transaction: a failure on
page N keeps pages 1..N-1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TypeVar

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from smsapp import twilio_gateway
from smsapp.models import Message, Phone, SyncRun
from smsapp.services.mirror import Counts, media_to_fetch, save_media, upsert_messages

# Twilio lists newest first and keeps changing a message's status after it was sent, so an
# incremental run starts this far before the newest date_sent already mirrored.
DEFAULT_OVERLAP = timedelta(days=2)

T = TypeVar("T")


@dataclass
class SyncResult:
    phones: Counts = field(default_factory=Counts)
    messages: Counts = field(default_factory=Counts)
    media: Counts = field(default_factory=Counts)
    pages: int = 0
    since: date | None = None

    def counts(self) -> dict[str, dict[str, int]]:
        return {kind: asdict(getattr(self, kind)) for kind in ("phones", "messages", "media")}


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
    """The DateSent to list from: the overlap before the newest mirrored message, or before
    the start of the last finished sync if that is earlier; None (everything) when no sync
    ever finished.

    The newest message alone is not enough: webhooks and sends store new messages between
    syncs, and a sync that failed on page N kept the newest pages (Twilio lists newest
    first) but not the older ones. Starting from either would skip what was never read.
    """
    last = SyncRun.objects.filter(finished_at__isnull=False).order_by("-started_at").first()
    if last is None:
        return None
    newest = Message.objects.aggregate(newest=Max("date_sent"))["newest"]
    start = min(newest, last.started_at) if newest else last.started_at
    return (start - overlap).date()


def sync_messages(
    *,
    since: date | None = None,
    on_page: PageCallback | None = None,
    result: SyncResult | None = None,
) -> SyncResult:
    """Mirror messages sent on or after `since` (all of them when None), adding the counts
    to `result` as pages are written (so a caller still has them if a later page fails)."""
    result = result or SyncResult(since=since)
    for records in _read_ahead(twilio_gateway.iter_message_pages(date_sent_after=since)):
        # Media lists are read before the page's transaction opens: on SQLite that
        # transaction holds the write lock, and webhooks must not wait on Twilio calls.
        media = {sid: twilio_gateway.list_media(sid) for sid in media_to_fetch(records)}
        with transaction.atomic():
            result.messages.add(upsert_messages(records))
            result.media.add(save_media(media))
        result.pages += 1
        if on_page:
            on_page(result.pages, len(records), result)
    return result


def _read_ahead(pages: Iterator[T]) -> Iterator[T]:
    """Yield from `pages` while the next one is already being fetched in a helper thread:
    Twilio takes about as long to answer a page as the database takes to write it, so a
    sync runs at the slower of the two instead of their sum. At most two pages are held
    in memory; the generator is only ever advanced by one thread at a time."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-read-ahead") as pool:
        ahead = pool.submit(next, pages, None)
        while (page := ahead.result()) is not None:
            ahead = pool.submit(next, pages, None)
            yield page


def running_sync(stale_after: timedelta = timedelta(minutes=15)) -> SyncRun | None:
    """A run started recently that has neither finished nor failed (a crashed process
    leaves such a row behind, hence `stale_after`)."""
    recent = timezone.now() - stale_after
    return SyncRun.objects.filter(
        finished_at__isnull=True, error="", started_at__gte=recent
    ).first()


def sync_all(
    *, full: bool = False, since: date | None = None, on_page: PageCallback | None = None
) -> SyncResult:
    """Phones, then messages: everything with `full`, from `since` when given, otherwise
    incrementally (see incremental_start). Each run is recorded as a SyncRun."""
    if not full and since is None:
        since = incremental_start()
    run = SyncRun.objects.create(full=full, since=since)
    result = SyncResult(since=since)
    try:
        result.phones = sync_phones()
        sync_messages(since=since, on_page=on_page, result=result)
    except Exception as exc:  # recorded on the run, then raised to the caller
        run.error = getattr(exc, "message", None) or repr(exc)
        raise
    else:
        run.finished_at = timezone.now()
    finally:
        run.pages = result.pages
        run.counts = result.counts()
        run.save(update_fields=["error", "finished_at", "pages", "counts"])
    return result
