"""How fast message_list answers with 1,000,000 messages in the mirror.

Fills a throw-away database (a temporary SQLite file, and a temporary PostgreSQL database
`bench_api` that it creates and drops) with messages across 20 of our numbers, then times
GET message_list/<number>/<direction> through Django's test client as a signed-in SMS
agent: the first page, and a page about 20,000 messages deep (reached with the keyset
cursor the API hands out), for both directions. Prints p50/p95 over the requests and the
query plan of each query, so the index in use is visible. Goal: p95 <= 20 ms.

    .venv/bin/python bench/message_list_bench.py                 # both databases
    .venv/bin/python bench/message_list_bench.py --db sqlite --rows 200000

PostgreSQL is reached at BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432).
Each database is measured in its own process, because Django reads its settings once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench.throwaway, and the app in the worker
from bench.throwaway import database, kinds  # noqa: E402

NUMBERS = [f"+1415555{n:04d}" for n in range(100, 120)]  # our 20 numbers
PATIENTS = 5000
DEEP = 20_000  # rows into one number's history for the "deep" page
BASE = datetime(2020, 1, 1, tzinfo=UTC)
BENCH_DB = "bench_api"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="per page kind and direction")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # a DATABASE_URL: measure it
    args = parser.parse_args()
    if args.worker:
        return measure(args.worker, rows=args.rows, requests=args.requests)
    for kind in kinds(args.db):
        with database(kind, BENCH_DB) as url:
            run_worker(url, args)


def run_worker(database_url: str, args: argparse.Namespace) -> None:
    command = [sys.executable, __file__, "--worker", database_url]
    command += ["--rows", str(args.rows), "--requests", str(args.requests)]
    subprocess.run(command, check=True, cwd=ROOT)


# --- the worker: one database ------------------------------------------------------------


def measure(database_url: str, *, rows: int, requests: int) -> None:
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

    call_command("migrate", verbosity=0)
    vendor = connection.vendor
    print(f"\n== {vendor}: {rows:,} messages across {len(NUMBERS)} numbers ==", flush=True)
    started = time.perf_counter()
    fill(rows)
    print(f"filled in {time.perf_counter() - started:.1f} s", flush=True)

    # Each number holds rows / 40 messages per direction; smaller runs go less deep.
    depth = min(DEEP, rows // (2 * len(NUMBERS)) - 60)
    client = staff_client()
    results, queries, cpu = {}, {}, {}
    for direction in ("from", "to"):
        cursors = deep_cursors(direction, depth)
        for label, page in (("first page", None), ("deep page", cursors)):
            key = f"{direction} {label}"
            results[key], queries[key], cpu[key] = timed(client, direction, page, requests)
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for label, samples in results.items():
        p50, p95 = percentiles(samples)
        q50, q95 = percentiles(queries[label])
        c50, c95 = percentiles(cpu[label])
        print(
            f"{vendor:10} message_list {label:16} request p50 {p50:6.2f} ms  p95 {p95:6.2f} ms"
            f"  | its query p50 {q50:5.2f}  p95 {q95:5.2f}"
            f"  | this process's CPU p50 {c50:5.2f}  p95 {c95:5.2f}  ({len(samples)} requests)"
        )
    print(f"(deep page: {depth:,} messages into each number's history)")
    print_plans(vendor, depth)
    print("RESULT " + json.dumps({"vendor": vendor, "rows": rows, **{
        k: dict(zip(("p50", "p95"), percentiles(v), strict=True)) for k, v in results.items()
    }}))  # fmt: skip


def fill(rows: int) -> None:
    """Insert the messages in large batches with raw SQL (COPY on PostgreSQL): the ORM's
    per-object overhead would dominate at a million rows."""
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
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY smsapp_message ({columns}) FROM STDIN") as copy:
                for row in message_rows(rows, iso=False):
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * 17)
            sql = f"INSERT INTO smsapp_message ({columns}) VALUES ({marks})"  # noqa: S608
            batch = []
            for row in message_rows(rows, iso=True):
                batch.append(row)
                if len(batch) == 20_000:
                    cursor.executemany(sql, batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
    with connection.cursor() as cursor:
        # Fresh statistics, and on PostgreSQL the vacuum autovacuum would otherwise start
        # in the middle of the timings (a production table is vacuumed already).
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def message_rows(rows: int, *, iso: bool):
    """Alternately outbound (our number -> a patient) and inbound (a patient -> our
    number), one every 7 seconds or so, some sharing a second (ties the id must break)."""
    for i in range(rows):
        ours = NUMBERS[i % len(NUMBERS)]
        patient = f"+1650555{(i // len(NUMBERS)) % PATIENTS:04d}"
        outbound = (i // len(NUMBERS)) % 2 == 0
        created = BASE + timedelta(seconds=(i // 3) * 20)
        sent = created + timedelta(seconds=2)
        stamps = (created, sent, sent)
        if iso:  # how Django stores aware datetimes in SQLite: UTC, no offset
            stamps = tuple(s.replace(tzinfo=None).isoformat(sep=" ") for s in stamps)
        yield (
            f"SM{i:032x}", "AC" + "0" * 32, "",
            "outbound-api" if outbound else "inbound",
            ours if outbound else patient, patient if outbound else ours,
            f"Message {i}", "delivered" if outbound else "received", None, "",
            0, 1, "-0.00790", "USD", *stamps,
        )  # fmt: skip


def staff_client():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    user = get_user_model().objects.create_user(username="bench")
    user.groups.add(Group.objects.get(name="SMS agents"))
    client = Client()
    client.force_login(user)
    return client


def deep_cursors(direction: str, depth: int) -> dict[str, str]:
    """For each number, the cursor the API would hand out `depth` rows into its history
    (found once here with OFFSET; the timed requests never use one)."""
    from smsapp.lib import paging
    from smsapp.models import Message

    field = "from_number" if direction == "from" else "to_number"
    cursors = {}
    for number in NUMBERS:
        row = Message.objects.filter(**{field: number}).order_by("-date_created", "-id")[depth]
        cursors[number] = paging.encode_cursor(row.date_created, row.id)
    return cursors


def timed(client, direction: str, cursors: dict[str, str] | None, requests: int):
    """Times `requests` GETs (after 20 unmeasured warm-up ones): the whole request through
    the test client (wall clock), the message query alone as the database driver saw it,
    and the CPU this process spent on the request. On a shared machine the wall clock
    includes waiting for a core; the other two show the work itself."""
    from urllib.parse import quote

    from django.db import connection

    query_ms: list[float] = []

    def clock_message_query(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if "smsapp_message" in sql:
                query_ms.append((time.perf_counter() - started) * 1000)

    samples, cpu = [], []
    with connection.execute_wrapper(clock_message_query):
        for n in range(requests + 20):
            number = NUMBERS[n % len(NUMBERS)]
            url = f"/plugin-io/api/twilio_sms_mms/message_list/{quote(number)}/{direction}"
            query = {"before": cursors[number]} if cursors else {}
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url, query)
            elapsed = (time.perf_counter() - started) * 1000
            used = (time.process_time() - started_cpu) * 1000
            assert response.status_code == 200, response.content
            assert len(response.json()) == 50 and "X-Next-Page" in response.headers
            if n >= 20:
                samples.append(elapsed)
                cpu.append(used)
    return samples, query_ms[20:], cpu


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return round(cuts[49], 2), round(cuts[94], 2)


def print_plans(vendor: str, depth: int) -> None:
    from smsapp.lib import paging
    from smsapp.models import Message

    for direction in ("from", "to"):
        field = "from_number" if direction == "from" else "to_number"
        base = Message.objects.filter(**{field: NUMBERS[3]})
        cursor = paging.decode_cursor(deep_cursors(direction, depth)[NUMBERS[3]])
        for label, before in (("first page", None), ("deep page", cursor)):
            queryset = paging.older_than(base, before)[:51]
            options = {"analyze": True} if vendor == "postgresql" else {}
            print(f"\n-- plan: {direction} {label}\n{queryset.explain(**options)}")
    # The conversation route's two legs (not timed here) use their own index.
    ours, patient = NUMBERS[3], Message.objects.filter(from_number=NUMBERS[3]).first().to_number
    leg = paging.older_than(Message.objects.filter(from_number=ours, to_number=patient), None)
    options = {"analyze": True} if vendor == "postgresql" else {}
    print(f"\n-- plan: one conversation leg\n{leg[:51].explain(**options)}")


if __name__ == "__main__":
    main()
