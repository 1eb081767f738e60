"""Bring the local mirror up to date from Twilio: phone numbers, messages, media metadata.

Upserts by SID and counts what it created, updated and left unchanged, so running it twice
changes nothing the second time. Messages are read one page at a time and each page is
written in its own transaction: a failure on page N keeps pages 1..N-1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from django.db import connection, models, transaction
from django.db.models import Count, Max
from django.utils import timezone

from smsapp import twilio_gateway
from smsapp.models import Media, Message, Phone, SyncRun

# Twilio lists newest first and keeps changing a message's status after it was sent, so an
# incremental run starts this far before the newest date_sent already mirrored.
DEFAULT_OVERLAP = timedelta(days=2)

T = TypeVar("T")


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


_STATUS_FIELDS = ("status", "error_code", "error_message")


def _status_is_behind(record: dict[str, Any], current: dict[str, Any]) -> bool:
    """Twilio's list was read before a status callback we already stored (a page of 1,000
    takes a while): its older status must not undo the newer one (DESIGN: status only
    moves forward)."""
    return record["status"] != current["status"] and Message.may_move(
        record["status"], current["status"]
    )


def upsert_messages(records: list[dict[str, Any]]) -> Counts:
    """Create or update one page of message records in a single statement.

    Only the fields Twilio gives (the record's keys) are compared and written, so columns
    the app keeps for itself on Message are never overwritten by a sync."""
    counts = Counts()
    if not records:
        return counts
    fields = [name for name in records[0] if name != "sid"]
    sids = [r["sid"] for r in records]
    existing = {
        row[0]: row[1:] for row in Message.objects.filter(sid__in=sids).values_list("sid", *fields)
    }
    to_write = []
    for record in records:
        row = existing.get(record["sid"])
        if row is None:
            counts.created += 1
        else:
            current = dict(zip(fields, row, strict=True))
            if _status_is_behind(record, current):
                record = {**record, **{name: current[name] for name in _STATUS_FIELDS}}
            if all(current[name] == record[name] for name in fields):
                counts.unchanged += 1
                continue
            counts.updated += 1
        to_write.append(record)
    if to_write:
        _upsert_rows(to_write, fields)
    return counts


def _upsert_rows(records: list[dict[str, Any]], fields: list[str]) -> None:
    """INSERT ... ON CONFLICT (sid) DO UPDATE for the records, in one executemany (the
    syntax is the same on SQLite and PostgreSQL).

    It is what bulk_create(update_conflicts=True) does, without building a model instance
    and running 17 fields' prepare hooks per message, which was half of a sync's time
    (bench/sync_bench.py). Columns the records do not carry get their model default on
    insert and are left alone on update."""
    meta = Message._meta
    names = ["sid", *fields]
    written = [meta.get_field(name) for name in names]
    others = [f for f in meta.concrete_fields if f.name not in names and not f.primary_key]
    datetimes = [isinstance(f, models.DateTimeField) for f in written]
    adapt = connection.ops.adapt_datetimefield_value
    defaults = tuple(f.get_db_prep_save(_default(f), connection) for f in others)
    quote = connection.ops.quote_name
    columns = [quote(f.column) for f in written + others]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) "  # noqa: S608 - names from _meta
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({quote(meta.get_field('sid').column)}) DO UPDATE SET "
        + ", ".join(f"{column} = EXCLUDED.{column}" for column in columns[1 : len(written)])
    )
    rows = [
        tuple(
            adapt(record[name]) if is_datetime else record[name]
            for name, is_datetime in zip(names, datetimes, strict=True)
        )
        + defaults
        for record in records
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _default(field: models.Field) -> Any:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return timezone.now()
    return field.get_default()


def media_to_fetch(records: list[dict[str, Any]]) -> list[str]:
    """SIDs of the messages in `records` that carry more media than are mirrored."""
    expected = {r["sid"]: r["num_media"] for r in records if r["num_media"]}
    if not expected:
        return []
    mirrored = dict(
        Media.objects.filter(message__sid__in=expected)
        .values_list("message__sid")
        .annotate(count=Count("id"))
    )
    return [sid for sid, count in expected.items() if mirrored.get(sid, 0) < count]


def save_media(media: dict[str, list[dict[str, Any]]]) -> Counts:
    """Store media records (message SID -> its media records) for mirrored messages."""
    counts = Counts()
    if not media:
        return counts
    message_ids = dict(Message.objects.filter(sid__in=media).values_list("sid", "id"))
    media_sids = [r["sid"] for records in media.values() for r in records]
    known = set(Media.objects.filter(sid__in=media_sids).values_list("sid", flat=True))
    new = [
        Media(message_id=message_ids[message_sid], **record)
        for message_sid, records in media.items()
        if message_sid in message_ids
        for record in records
        if record["sid"] not in known
    ]
    Media.objects.bulk_create(new, ignore_conflicts=True)
    counts.created = len(new)
    counts.unchanged = len(media_sids) - len(new)
    return counts


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
        run.counts = {
            kind: asdict(getattr(result, kind)) for kind in ("phones", "messages", "media")
        }
        run.save(update_fields=["error", "finished_at", "pages", "counts"])
    return result
