"""What one /readyz poll costs: queries and time, on a database with a worker reporting in.

Migrates a temporary SQLite file (or the PostgreSQL database `bench_health`, created and
dropped), then sends GET /readyz and GET /healthz through Django's test client: the first
/readyz (it reads the migration files once), then --requests of each. Prints the queries
of one poll and p50/p95 of the request.

    .venv/bin/python bench/health_bench.py                 # SQLite
    .venv/bin/python bench/health_bench.py --db postgres   # BENCH_POSTGRES_URL

Each database is measured in its own process, because Django reads its settings once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench.throwaway, and the app in the worker
BENCH_DB = "bench_health"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # a DATABASE_URL: measure it
    args = parser.parse_args()
    if args.worker:
        return measure(args.worker, requests=args.requests)
    from bench.throwaway import database

    with database(args.db, BENCH_DB) as url:
        run_worker(url, args)


def run_worker(database_url: str, args: argparse.Namespace) -> None:
    command = [sys.executable, __file__, "--worker", database_url, "--requests", str(args.requests)]
    subprocess.run(command, check=True, cwd=ROOT)


def measure(database_url: str, *, requests: int) -> None:
    os.environ.update(
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY="bench-only-not-a-secret",
        TWILIO_SANDBOX="true",
        ALLOWED_HOSTS="testserver",  # the test client's host
        LOG_LEVEL="ERROR",  # a 503 would log an error per poll
        DJANGO_SETTINGS_MODULE="project.settings",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from smsapp.worker import Worker

    call_command("migrate", verbosity=0)
    Worker(once=True).report_in()
    client = Client()

    started = time.perf_counter()
    assert client.get("/readyz").status_code == 200
    first = (time.perf_counter() - started) * 1000
    with CaptureQueriesContext(connection) as queries:
        client.get("/readyz")
    print(f"{connection.vendor}: one /readyz poll runs {len(queries)} query: {queries[0]['sql']}")
    print(f"  first /readyz (reads the migration files): {first:.1f} ms")
    for path in ("/readyz", "/healthz"):
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"  {path}: p50 {statistics.median(times):.2f} ms, p95 {p95:.2f} ms ({requests})")
    print(f"  load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
