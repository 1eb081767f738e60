"""Bring the local mirror up to date from Twilio: phone numbers, messages, media metadata.

Writes through smsapp.services.mirror, which upserts by SID and counts what it created,
updated and left unchanged, so running it twice changes nothing the second time. Messages
are read one page at a time and each page is written in its own transaction: a failure on
page N keeps pages 1..N-1.

Every run is a SyncRun, and at most one is queued or running at a time across every
process (claim_run). `manage.py sync_twilio` runs one in its own process; the page's
button (start_sync) and the periodic reconciliation (reconcile) run one as a job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django_tasks import task

from smsapp import twilio_gateway
from smsapp.models import Message, Phone, SyncRun
from smsapp.services import consent, lookup
from smsapp.services.mirror import Counts, media_to_fetch, save_media, upsert_messages

# Twilio lists newest first and keeps changing a message's status after it was sent, so an
# incremental run starts this far before the newest date_sent already mirrored.
DEFAULT_OVERLAP = timedelta(days=2)
# What a run started by the app itself (not `sync_twilio --full`) reads when no sync has
# finished yet: a first run over an account's whole history is the command's job.
FIRST_RUN_WINDOW = timedelta(days=7)
# A run writes its progress with every page; one that has not moved for this long has
# lost its process (or, queued, was never picked up by a worker).
STALE_AFTER = timedelta(minutes=15)

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
            consent.record_keywords_found(records)  # STOPs a webhook missed
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


class SyncAlreadyRunning(Exception):
    """Another run is queued or running; `run` is that one."""

    def __init__(self, run: SyncRun | None) -> None:
        super().__init__("A sync is already running.")
        self.run = run


def _fail_stale(now: datetime) -> None:
    """Release runs that stopped moving, so they no longer block new ones."""
    stale = SyncRun.objects.filter(active=True, updated_at__lt=now - STALE_AFTER)
    stale.filter(state=SyncRun.State.QUEUED).update(
        active=None,
        state=SyncRun.State.FAILED,
        error="No worker started this sync within 15 minutes; is `manage.py work` running?",
    )
    stale.filter(state=SyncRun.State.RUNNING).update(
        active=None,
        state=SyncRun.State.FAILED,
        error="This sync stopped without finishing (its process ended).",
    )


def claim_run(*, full: bool = False, since: date | None = None) -> SyncRun:
    """Create the one active run (queued), or raise SyncAlreadyRunning. Atomic across
    processes and machines: the database refuses a second row with `active` set."""
    _fail_stale(timezone.now())
    try:
        with transaction.atomic():
            return SyncRun.objects.create(full=full, since=since, active=True)
    except IntegrityError:
        raise SyncAlreadyRunning(SyncRun.objects.filter(active=True).first()) from None


def run_sync(run: SyncRun, *, on_page: PageCallback | None = None) -> SyncResult:
    """Phones, then messages from `run.since` (everything when None), writing the counts
    to the run as pages are written so `sync/<id>` shows progress. The run ends finished
    or failed (with the error's sentence, and the error raised to the caller)."""
    run.state = SyncRun.State.RUNNING
    run.save(update_fields=["state", "updated_at"])
    result = SyncResult(since=run.since)

    def save_progress() -> None:
        run.pages, run.counts = result.pages, result.counts()
        run.save(update_fields=["pages", "counts", "updated_at"])

    def progress(page: int, size: int, so_far: SyncResult) -> None:
        save_progress()
        if on_page:
            on_page(page, size, so_far)

    try:
        result.phones = sync_phones()
        save_progress()
        sync_messages(since=run.since, on_page=progress, result=result)
    except Exception as exc:  # recorded on the run, then raised to the caller
        run.state = SyncRun.State.FAILED
        run.error = getattr(exc, "message", None) or repr(exc)
        raise
    else:
        run.state = SyncRun.State.FINISHED
        run.finished_at = timezone.now()
    finally:
        run.active = None
        run.pages, run.counts = result.pages, result.counts()
        run.save(update_fields=["state", "error", "finished_at", "active", "pages", "counts"])
    lookup.resolve_from_mirror()  # sends whose outcome was unknown may be here now
    return result


def sync_all(
    *, full: bool = False, since: date | None = None, on_page: PageCallback | None = None
) -> SyncResult:
    """A run in this process (`manage.py sync_twilio`): everything with `full`, from
    `since` when given, otherwise incrementally (see incremental_start). Raises
    SyncAlreadyRunning while another run is active."""
    if not full and since is None:
        since = incremental_start()
    return run_sync(claim_run(full=full, since=since), on_page=on_page)


def _background_start() -> date:
    return incremental_start() or (timezone.now() - FIRST_RUN_WINDOW).date()


def start_sync() -> SyncRun:
    """Queue an incremental run (or one over FIRST_RUN_WINDOW when none has finished) for
    a worker; the page follows it at sync/<id>. Raises SyncAlreadyRunning."""
    run = claim_run(since=_background_start())
    run_sync_job.enqueue(run.pk)
    return run


def run_queued(run_id: int) -> dict[str, int] | None:
    """Run a run start_sync queued, unless it is no longer queued (released as stale)."""
    claimed = SyncRun.objects.filter(pk=run_id, state=SyncRun.State.QUEUED, active=True)
    if not claimed.update(state=SyncRun.State.RUNNING):
        return None
    result = run_sync(SyncRun.objects.get(pk=run_id))
    return {"pages": result.pages}


def reconcile() -> str:
    """The periodic reconciliation: Twilio recommends one, since status callbacks can be
    lost or arrive out of order. Skipped while another run is active."""
    try:
        run = claim_run(since=_background_start())
    except SyncAlreadyRunning:
        return "skipped: another sync is running"
    result = run_sync(run)
    return f"{result.pages} pages; messages: {result.messages}"


def reconcile_every() -> timedelta | None:
    """How often the workers reconcile: every SYNC_EVERY_MINUTES with a real Twilio
    account; never with 0, or against the offline sandbox (it has nothing to lose)."""
    minutes = settings.SYNC_EVERY_MINUTES
    if not minutes or settings.TWILIO_SANDBOX or not twilio_gateway.is_configured():
        return None
    return timedelta(minutes=minutes)


@task()
def run_sync_job(run_id: int) -> dict[str, int] | None:
    """The job of a sync staff asked for (POST sync); the run records progress and error."""
    return run_queued(run_id)


@task()
def reconcile_job() -> str:
    """The periodic incremental sync (SYNC_EVERY_MINUTES)."""
    return reconcile()
