"""How fast the inbox answers with 1,000,000 messages in 100,000 conversations.

Fills a throw-away database (a temporary SQLite file, and a temporary PostgreSQL database
`bench_inbox` that it creates and drops) with messages across 20 of our numbers, 5,000
patients each, ten messages per conversation; builds the conversations with the data
migration (timed: it is what an upgrade runs); then times through Django's test client,
as a signed-in SMS agent:

- GET conversations/<our_number> for each filter (all, unread, needs_reply): the first
  page, and a page 500 conversations deep (reached with the API's own keyset cursor);
- GET inbox_counts;
- the page's polls: both again with If-None-Match, answered 304.

Prints p50/p95 of the whole request, of the CPU this process spent on it and of the
inbox's own queries (those that read its two tables; the rest are Django's sign-in and the
role's permissions, the same on every API route), the queries per request (they must not
change between requests), the load average, and each list query's plan, so the index in
use is visible. Goals: p95 <= 15 ms for the list pages, <= 5 ms for
the counts.

    .venv/bin/python bench/inbox_bench.py                 # both databases
    .venv/bin/python bench/inbox_bench.py --db sqlite --conversations 10000

PostgreSQL is reached at BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432).
Each database is measured in its own process, because Django reads its settings once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import subprocess
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.message_list_bench import percentiles, staff_client  # noqa: E402
from bench.throwaway import database, kinds  # noqa: E402

NUMBERS = [f"+1415555{n:04d}" for n in range(100, 120)]  # our 20 numbers
MESSAGES_PER_CONVERSATION = 10
DEEP = 500  # conversations into a number's list for the "deep" page
BASE = datetime(2020, 1, 1, tzinfo=UTC)
API = "/plugin-io/api/twilio_sms_mms/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="per kind of request")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # a DATABASE_URL: measure it
    args = parser.parse_args()
    if args.worker:
        return measure(args.worker, conversations=args.conversations, requests=args.requests)
    for kind in kinds(args.db):
        with database(kind, "bench_inbox") as url:
            run_worker(url, args)


def run_worker(database_url: str, args: argparse.Namespace) -> None:
    command = [sys.executable, __file__, "--worker", database_url]
    command += ["--conversations", str(args.conversations), "--requests", str(args.requests)]
    subprocess.run(command, check=True, cwd=ROOT)


# --- the worker: one database ------------------------------------------------------------


def measure(database_url: str, *, conversations: int, requests: int) -> None:
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="project.settings",
        SECRET_KEY="bench-only-not-a-secret",
        DEBUG="false",
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
    )
    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)  # the build finds no messages yet
    vendor = connection.vendor
    messages = conversations * MESSAGES_PER_CONVERSATION
    print(f"\n== {vendor}: {messages:,} messages in {conversations:,} conversations ==")
    started = time.perf_counter()
    fill(conversations)
    print(f"messages filled in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    build_history()
    print(f"conversations built by the migration in {time.perf_counter() - started:.1f} s")
    analyze()
    describe()

    client = staff_client()
    per_number = conversations // len(NUMBERS)
    results = {}
    for filter_ in ("all", "unread", "needs_reply"):
        depth = min(DEEP, min(count(filter_, n) for n in NUMBERS) - 60)
        results[f"{filter_} first page"] = timed(client, list_urls(filter_), requests)
        deep = deep_urls(filter_, depth)
        results[f"{filter_} {depth} deep"] = timed(client, deep, requests)
    results["inbox_counts"] = timed(client, [f"{API}inbox_counts"], requests)
    results["list, 304"] = timed(client, list_urls("all"), requests, conditional=True)
    results["inbox_counts, 304"] = timed(client, [f"{API}inbox_counts"], requests, conditional=True)

    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"({per_number:,} conversations per number)")
    for label, (wall, cpu, own, queries) in results.items():
        p50, p95 = percentiles(wall)
        c50, c95 = percentiles(cpu)
        o50, o95 = percentiles(own)
        print(
            f"{vendor:10} {label:22} request p50 {p50:6.2f} ms  p95 {p95:6.2f}"
            f"  | CPU p50 {c50:5.2f}  p95 {c95:5.2f}  | inbox queries p50 {o50:5.2f}  p95 "
            f"{o95:5.2f}  | queries per request {queries}"
        )
    print_plans(vendor)


def fill(conversations: int) -> None:
    """Insert the messages in large batches with raw SQL (COPY on PostgreSQL): the ORM's
    per-object overhead would dominate at a million rows. The conversations are left to
    the migration's build, as on an upgrade."""
    from django.db import connection, transaction

    from smsapp.models import Phone

    Phone.objects.bulk_create(
        Phone(sid=f"PN{n:032x}", phone_number=number, sms=True, mms=True)
        for n, number in enumerate(NUMBERS)
    )
    columns = (
        "sid, account_sid, messaging_service_sid, direction, from_number, to_number, body, "
        "status, error_code, error_message, num_media, num_segments, price, price_unit, "
        "date_created, date_sent, date_updated"
    )
    rows = message_rows(conversations, iso=connection.vendor != "postgresql")
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY smsapp_message ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * 17)
            sql = f"INSERT INTO smsapp_message ({columns}) VALUES ({marks})"  # noqa: S608
            batch = []
            for row in rows:
                batch.append(row)
                if len(batch) == 20_000:
                    cursor.executemany(sql, batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)


def message_rows(conversations: int, *, iso: bool):
    """Ten messages per conversation, a conversation's k-th message in the k-th round,
    one every 10 seconds: patients' texts, staff replies and some auto-replies mixed so
    that about half the conversations end unread and a third need a reply."""
    kinds = random.Random(7)
    for i in range(conversations * MESSAGES_PER_CONVERSATION):
        c = i % conversations
        ours, patient = NUMBERS[c % len(NUMBERS)], f"+1650{c // len(NUMBERS):07d}"
        kind = kinds.randrange(10)
        direction = "inbound" if kind < 5 else "outbound-reply" if kind == 9 else "outbound-api"
        inbound = direction == "inbound"
        created = BASE + timedelta(seconds=i * 10)
        stamps = (created, created + timedelta(seconds=2), created + timedelta(seconds=2))
        if iso:  # how Django stores aware datetimes in SQLite: UTC, no offset
            stamps = tuple(s.replace(tzinfo=None).isoformat(sep=" ") for s in stamps)
        yield (
            f"SM{i:032x}", "AC" + "0" * 32, "", direction,
            patient if inbound else ours, ours if inbound else patient,
            f"Message {i}", "received" if inbound else "delivered", None, "",
            0, 1, "-0.00790", "USD", *stamps,
        )  # fmt: skip


def build_history() -> None:
    """The data migration's build (found by its name, whatever its number)."""
    from django.db import connection

    [path] = (ROOT / "smsapp" / "migrations").glob("*_build_conversations.py")
    migration = importlib.import_module(f"smsapp.migrations.{path.stem}")
    migration.build(None, SimpleNamespace(connection=connection))


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        # Fresh statistics, and on PostgreSQL the vacuum autovacuum would otherwise start
        # in the middle of the timings (a production table is vacuumed already).
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def count(filter_: str, number: str | None = None) -> int:
    from smsapp.models import Conversation

    conversations = Conversation.objects.filter(**_where(filter_))
    if number:
        conversations = conversations.filter(our_number=number)
    return conversations.count()


def describe() -> None:
    from smsapp.models import Conversation

    total = Conversation.objects.count()
    print(
        f"{total:,} conversations: {count('unread'):,} with unread texts, "
        f"{count('needs_reply'):,} needing a reply"
    )


def _where(filter_: str) -> dict:
    return {"all": {}, "unread": {"unread__gt": 0}, "needs_reply": {"needs_reply": True}}[filter_]


def list_urls(filter_: str) -> list[str]:
    from urllib.parse import quote

    return [f"{API}conversations/{quote(n)}?filter={filter_}" for n in NUMBERS]


def deep_urls(filter_: str, depth: int) -> list[str]:
    """For each number, the URL of the page `depth` conversations into its list, with the
    cursor the API would hand out there (found once here with OFFSET; the timed
    requests never use one)."""
    from urllib.parse import quote, urlencode

    from smsapp.lib import paging
    from smsapp.models import Conversation

    urls = []
    for number in NUMBERS:
        row = Conversation.objects.filter(our_number=number, **_where(filter_)).order_by(
            "-last_at", "-id"
        )[depth]
        cursor = paging.encode_cursor(row.last_at, row.id)
        query = urlencode({"filter": filter_, "before": cursor})
        urls.append(f"{API}conversations/{quote(number)}?{query}")
    return urls


def timed(client, urls: list[str], requests: int, *, conditional: bool = False):
    """Times `requests` GETs cycling through `urls` (after 20 unmeasured warm-up ones):
    wall clock and this process's CPU per request, and the queries each one ran (one
    number when they are constant). With `conditional`, each request sends the ETag its
    URL was answered with, as the page's polls do, and must be answered 304."""
    from django.db import connection

    ran, inbox_ms = [0], [0.0]

    def count_query(execute, sql, params, many, context):
        ran[0] += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if "smsapp_conversation" in sql or "smsapp_inboxcounter" in sql:
                inbox_ms[0] += (time.perf_counter() - started) * 1000

    etags = {url: client.get(url).headers["ETag"] for url in urls} if conditional else {}
    wall, cpu, own, queries = [], [], [], set()
    with connection.execute_wrapper(count_query):
        for n in range(requests + 20):
            url = urls[n % len(urls)]
            headers = {"HTTP_IF_NONE_MATCH": etags[url]} if conditional else {}
            ran[0], inbox_ms[0] = 0, 0.0
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url, **headers)
            elapsed = (time.perf_counter() - started) * 1000
            used = (time.process_time() - started_cpu) * 1000
            assert response.status_code == (304 if conditional else 200), response.content
            if n >= 20:
                wall.append(elapsed)
                cpu.append(used)
                own.append(inbox_ms[0])
                queries.add(ran[0])
    return wall, cpu, own, ", ".join(map(str, sorted(queries)))


def print_plans(vendor: str) -> None:
    from smsapp.lib import paging
    from smsapp.models import Conversation

    options = {"analyze": True} if vendor == "postgresql" else {}
    number = NUMBERS[3]
    for filter_ in ("all", "unread", "needs_reply"):
        base = Conversation.objects.filter(our_number=number, **_where(filter_))
        row = base.order_by("-last_at", "-id")[DEEP // 2]
        for label, before in (("first page", None), ("deep page", (row.last_at, row.id))):
            queryset = paging.older_than(base, before, field="last_at")[:51]
            print(f"\n-- plan: {filter_} {label}\n{queryset.explain(**options)}")


if __name__ == "__main__":
    main()
