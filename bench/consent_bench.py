"""Consent at scale: what it costs the inbox's list and every send.

Fills a throw-away database with --patients patient numbers (default 100,000), each with
its Consent rows (all numbers and one of ours), a tenth opted out, then times:

- `opted_out_numbers(our_number, 50 numbers)`: the inbox's `optedOut` for one page of
  conversations (one indexed query); goal p95 <= 5 ms, a quarter of the list's 20 ms;
- `send_permitted` around an empty block: the check every send makes before Twilio (on
  PostgreSQL a transaction with a FOR SHARE lock, the row inserted the first time);
  goal p95 <= 5 ms, against a Twilio call of 100-500 ms;
- `record` of a STOP: the write an opt-out adds to an inbound webhook.

    .venv/bin/python bench/consent_bench.py                 # SQLite and PostgreSQL
    .venv/bin/python bench/consent_bench.py --db sqlite --patients 20000

PostgreSQL at BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432); the
database `bench_consent` is created and dropped; SQLite in a temporary file.
Each database runs in its own process.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench.throwaway, and the app
DATABASE = "bench_consent"
OURS = ["+15005550006", "+15005550007"]


def _patient(n: int) -> str:
    return f"+1415{n:07d}"


def configure(url: str) -> None:
    os.environ.update(
        {
            "SECRET_KEY": secrets.token_urlsafe(40),
            "DATABASE_URL": url,
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "TWILIO_SANDBOX": "false",
        }
    )


def fill(patients: int) -> None:
    """Consent rows as the app writes them: an event per opted-out patient, rows for all
    numbers and for the number they texted; the others have rows from earlier sends."""
    from django.db import transaction
    from django.utils import timezone

    from smsapp.models import Consent, ConsentEvent

    now = timezone.now()
    batch = 5000
    for start in range(0, patients, batch):
        numbers = range(start, min(start + batch, patients))
        with transaction.atomic():
            events = ConsentEvent.objects.bulk_create(
                ConsentEvent(
                    at=now,
                    patient_number=_patient(n),
                    our_number=OURS[n % 2],
                    opted_out=True,
                    source="keyword",
                    keyword="STOP",
                )  # fmt: skip
                for n in numbers
                if n % 10 == 0
            )
            by_patient = {e.patient_number: e for e in events}
            rows = []
            for n in numbers:
                event = by_patient.get(_patient(n))
                for our in ("", OURS[n % 2]):
                    rows.append(Consent(patient_number=_patient(n), our_number=our,
                                        opted_out=event is not None, event=event))  # fmt: skip
            Consent.objects.bulk_create(rows)


def timed(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def describe(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    print(f"  {name:<44} p50 {statistics.median(ordered):6.2f} ms   p95 {p95:6.2f} ms")


def run(db: str, patients: int, repeat: int) -> None:
    from bench.throwaway import database

    with database(db, DATABASE) as url:
        configure(url)
        measure(db, patients, repeat)


def measure(db: str, patients: int, repeat: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from smsapp.models import Consent
    from smsapp.services import consent

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    fill(patients)
    print(f"{db}: {patients:,} patients, {Consent.objects.count():,} consent rows "
          f"(filled in {time.perf_counter() - started:.1f} s)")  # fmt: skip
    rng = random.Random(12)

    def page() -> set[str]:
        numbers = [_patient(rng.randrange(patients)) for _ in range(50)]
        return consent.opted_out_numbers(OURS[0], numbers)

    for _ in range(20):
        page()
    describe("opted_out_numbers, 50 numbers", timed(page, repeat))
    with connection.cursor() as cursor:
        query = Consent.objects.filter(
            our_number="", patient_number__in=[_patient(1), _patient(2)], opted_out=True
        )
        sql, params = query.order_by().values_list("patient_number").query.sql_with_params()
        cursor.execute(("EXPLAIN QUERY PLAN " if db == "sqlite" else "EXPLAIN ") + sql, params)
        print("    plan:", " / ".join(str(row[-1]) for row in cursor.fetchall()))

    def check_known() -> None:
        n = rng.randrange(patients)
        if n % 10 == 0:
            n += 1
        with consent.send_permitted(our_number=OURS[0], patient_number=_patient(n)):
            pass

    fresh = iter(range(patients, patients + repeat * 2))

    def check_new() -> None:
        with consent.send_permitted(our_number=OURS[0], patient_number=_patient(next(fresh))):
            pass

    describe("send_permitted, a patient texted before", timed(check_known, repeat))
    describe("send_permitted, a new patient", timed(check_new, repeat))

    def stop() -> None:
        consent.record(patient_number=_patient(next(fresh)), our_number=OURS[0],
                       opted_out=True, source="keyword", keyword="STOP")  # fmt: skip

    describe("record a STOP", timed(stop, repeat))
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=500)
    args = parser.parse_args()
    if args.db != "both":
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        run(args.db, args.patients, args.repeat)
        return
    for db in ("sqlite", "postgres"):  # each in its own process: settings are per process
        command = [sys.executable, __file__, "--db", db, "--patients", str(args.patients),
                   "--repeat", str(args.repeat)]  # fmt: skip
        subprocess.run(command, check=True)  # noqa: S603 - this interpreter, this script


if __name__ == "__main__":
    main()
