"""Scheduled sends at scale: N texts due at once (default 10,000), worked by W worker
processes (default 2, `manage.py work --once`) on PostgreSQL, against a local stand-in
for Twilio's Messages API that counts every POST. Prints sends per second and the
duplicates (there must be none).

    .venv/bin/python bench/scheduled_send_bench.py [--texts 10000] [--workers 2]

PostgreSQL at BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432); the
database `bench_scheduled` is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "bench_scheduled"
FROM = "+15005550006"


def configure(url: str, twilio_url: str) -> dict[str, str]:
    env = {
        "SECRET_KEY": secrets.token_urlsafe(40),
        "DATABASE_URL": url,
        "TWILIO_SANDBOX": "true",  # the sandbox's transport, pointed at the stand-in
        "SANDBOX_BASE_URL": twilio_url,
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "QUIET_HOURS": "",  # the +1 415 patients' night would hold every text till 08:00
    }
    os.environ.update(env)
    return env


def schedule(texts: int) -> None:
    """N texts due now from one number to N patients, each with its job."""
    from django.db import transaction
    from django.utils import timezone

    from smsapp.models import Phone, ScheduledMessage
    from smsapp.services import scheduled

    Phone.objects.create(sid="PN" + "0" * 32, phone_number=FROM, sms=True)
    now = timezone.now()
    with transaction.atomic():
        items = ScheduledMessage.objects.bulk_create(
            ScheduledMessage(
                from_number=FROM, to_number=f"+1415{i:07d}", body=f"Reminder {i}", send_at=now
            )
            for i in range(texts)
        )
        for item in items:
            scheduled.send_scheduled.using(run_after=now).enqueue(str(item.pk))


def report(texts: int, workers: int, elapsed: float, sent: Counter) -> None:
    from django.db.models import Max, Min
    from django_tasks_db.models import DBTaskResult

    from smsapp.models import ScheduledMessage

    jobs = DBTaskResult.objects.filter(task_path="smsapp.services.scheduled.send_scheduled")
    span = jobs.aggregate(first=Min("started_at"), last=Max("finished_at"))
    working = (span["last"] - span["first"]).total_seconds()
    per_worker = Counter(ids[0] for ids in jobs.values_list("worker_ids", flat=True) if ids)
    states = Counter(ScheduledMessage.objects.values_list("state", flat=True))
    duplicates = sum(1 for count in sent.values() if count > 1)
    missing = texts - len(sent)
    print(f"texts: {texts:,}, worker processes: {workers}")
    print(f"wall time, workers started to exited: {elapsed:.1f} s ({texts / elapsed:.0f} sends/s)")
    print(f"first job started to last finished:  {working:.1f} s ({texts / working:.0f} sends/s)")
    print(f"jobs per worker: {sorted(per_worker.values())}")
    print(f"states: {dict(states)}")
    print(f"POSTs to Twilio: {sum(sent.values()):,}; duplicates: {duplicates}; missing: {missing}")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    if duplicates or missing or states.get("sent") != texts:
        sys.exit("FAILED: every text must be sent exactly once")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    import django

    from bench.throwaway import postgres_database
    from tests.twilio_standin import TwilioStandIn

    stand_in = TwilioStandIn()
    try:
        with postgres_database(DATABASE) as url:
            env = configure(url, stand_in.url)
            django.setup()
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            print(f"Scheduling {args.texts:,} texts, all due now…")
            schedule(args.texts)
            # --skip-checks: the start-up checks want collected static files; no worker
            # needs them.
            command = [sys.executable, "manage.py", "work", "--once", "-v0", "--skip-checks"]
            started = time.monotonic()
            workers = [
                subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})  # noqa: S603
                for _ in range(args.workers)
            ]
            codes = [worker.wait() for worker in workers]
            elapsed = time.monotonic() - started
            if any(codes):
                sys.exit(f"A worker failed: exit codes {codes}")
            report(args.texts, args.workers, elapsed, stand_in.sent)
    finally:
        stand_in.close()


if __name__ == "__main__":
    main()
