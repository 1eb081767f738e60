"""The audit export at 1,000,000 entries: rows per second and peak memory, which must stay
flat whatever the range holds.

    .venv/bin/python bench/audit_export_bench.py                      # SQLite and PostgreSQL
    .venv/bin/python bench/audit_export_bench.py --db sqlite --rows 200000

Fills a throw-away database (a temporary SQLite file, and `bench_audit` at
BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432, created and dropped) with
`--rows` entries spread over 100 days, then downloads GET /audit/export.csv as a superuser
through Django's test client, reading the streamed answer to its end: a tenth of the
days, then all of them. Each download runs in a fresh process, so its max RSS is its own;
each is timed once, then run again under tracemalloc for Python's peak. With the export
streaming, the peaks at a tenth and at all rows are the same.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench.throwaway
DATABASE = "bench_audit"
DAYS = 100
FIRST_DAY = date(2026, 1, 1)
ACTIONS = ["message_sent", "conversation_opened", "media_viewed", "signed_in"]


def environment(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SECRET_KEY": "bench-only-" + "x" * 40,
        "DATABASE_URL": url,
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "ALLOWED_HOSTS": "testserver",
        "TWILIO_SANDBOX": "false",
        "PYTHONPATH": str(ROOT),
    }


def fill(rows: int) -> None:
    """`rows` entries over DAYS days, written with one executemany per 10,000 (the ORM's
    save would take longer than the export being measured)."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from smsapp.models import AuditEvent

    call_command("migrate", verbosity=0)
    columns = ["at", "actor", "action", "target", "patient", "ip", "request_id"]
    table = AuditEvent._meta.db_table
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * 7)})"  # noqa: S608
    step = timedelta(days=DAYS) / rows
    start = datetime.combine(FIRST_DAY, datetime.min.time(), tzinfo=UTC)
    adapt = connection.ops.adapt_datetimefield_value
    for first in range(0, rows, 10_000):
        batch = [
            (
                adapt(start + step * n),
                f"canvas-{n % 40:032x}",
                ACTIONS[n % 4],
                f"SM{n:032x}" if n % 7 else "+14155550199",
                f"{n % 5000:032x}",
                f"10.0.{n % 250}.{n % 200}",
                secrets.token_hex(16),
            )
            for n in range(first, min(first + 10_000, rows))
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, batch)


def measure(days: int, traced: bool) -> dict:
    """One download of `days` days, read to the end: rows, seconds, bytes, peaks."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.filter(username="bench").first()
    user = user or get_user_model().objects.create_superuser("bench")
    client = Client()
    client.force_login(user)
    until = FIRST_DAY + timedelta(days=days - 1)
    if traced:
        tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    response = client.get("/audit/export.csv", {"since": str(FIRST_DAY), "until": str(until)})
    size = lines = 0
    for piece in response.streaming_content:
        size += len(piece)
        lines += piece.count(b"\n")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1] if traced else None
    return {
        "rows": lines - 1,
        "seconds": elapsed,
        "cpu": cpu,
        "bytes": size,
        "peak": peak,
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def run(db: str, rows: int) -> None:
    from bench.throwaway import database

    with database(db, DATABASE) as url:
        env = environment(url)
        started = time.perf_counter()
        _child(env, ["--fill", str(rows)])
        print(f"{db}: {rows:,} entries written in {time.perf_counter() - started:.0f} s")
        for days in (DAYS // 10, DAYS):
            timed = _child(env, ["--measure", str(days)])
            traced = _child(env, ["--measure", str(days), "--traced"])
            print(
                f"  {days:>3} days, {timed['rows']:>9,} rows, {timed['bytes'] / 2**20:6.1f} MiB: "
                f"{timed['rows'] / timed['seconds']:,.0f} rows/s "
                f"({timed['seconds']:.1f} s, CPU {timed['cpu']:.1f} s); "
                f"tracemalloc peak {traced['peak'] / 2**20:.1f} MiB; "
                f"max RSS {timed['max_rss_kib'] / 1024:.0f} MiB"
            )


def _child(env: dict[str, str], args: list[str]) -> dict:
    result = subprocess.run(  # noqa: S603 - this interpreter, this script
        [sys.executable, "-W", "ignore", __file__, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        sys.exit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1] or "{}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--fill", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill or args.measure:  # a child process, on the database in its environment
        import django

        django.setup()
        if args.fill:
            fill(args.fill)
            print("{}")
        else:
            print(json.dumps(measure(args.measure, args.traced)))
        return
    from bench.throwaway import kinds

    for db in kinds(args.db):
        run(db, args.rows)
    print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
