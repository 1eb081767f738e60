"""sync_twilio against the offline sandbox: messages per second and peak memory.

Fills the stand-in with N messages (default 100,000), serves the app (stand-in included)
with gunicorn on loopback, then runs the real sync (real twilio SDK, real HTTP, pages of
1,000) in this process, measuring wall time, tracemalloc's peak and the process's max RSS.
Runs twice, at N/10 and N, so you can see memory does not grow with the number of messages.

    .venv/bin/python bench/sandbox_sync_bench.py [--messages 100000] [--port 18600]
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def configure(db_path: Path, port: int) -> dict[str, str]:
    env = {
        "SECRET_KEY": secrets.token_urlsafe(40),
        "DATABASE_URL": f"sqlite:///{db_path}",
        "TWILIO_SANDBOX": "true",
        "SANDBOX_BASE_URL": f"http://127.0.0.1:{port}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "project.settings",
    }
    os.environ.update(env)
    return env


def fill(first: int, stop: int) -> None:
    """Stand-in messages number `first` to `stop` - 1, 30 seconds apart."""
    from twilio_sandbox import engine
    from twilio_sandbox.models import SandboxMessage

    engine.ensure_seeded()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    patients = [f"+1415555{n:04d}" for n in range(200)]
    batch = []
    for i in range(first, stop):
        at = start + timedelta(seconds=30 * i)
        inbound = i % 3 == 0
        patient = patients[i % len(patients)]
        batch.append(
            SandboxMessage(
                sid=f"SM{i:032x}",
                direction="inbound" if inbound else "outbound-api",
                from_number=patient if inbound else "+15005550006",
                to_number="+15005550006" if inbound else patient,
                body=f"Message {i}: see you at the clinic tomorrow.",
                status="received" if inbound else "delivered",
                price="-0.00790",
                date_created=at,
                date_sent=at,
                date_updated=at,
            )
        )
        if len(batch) == 5000:
            SandboxMessage.objects.bulk_create(batch)
            batch = []
    SandboxMessage.objects.bulk_create(batch)


def serve(env: dict[str, str], port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "project.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    import requests

    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/sandbox/twilio/", timeout=1)
            return server
        except requests.ConnectionError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def run_sync() -> tuple[int, float, int]:
    from smsapp import sync
    from smsapp.models import Message

    Message.objects.all().delete()
    tracemalloc.start()
    started = time.perf_counter()
    result = sync.sync_all(full=True)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result.messages.created, elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=18600)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        env = configure(Path(tmp) / "bench.sqlite3", args.port)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        print(f"filling the stand-in with {args.messages:,} messages ...", flush=True)
        tenth = args.messages // 10
        fill(0, tenth)
        server = serve(env, args.port)
        try:
            for label in ("N/10", "N"):
                if label == "N":
                    fill(tenth, args.messages)
                created, elapsed, peak = run_sync()
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(
                    f"{label}: {created:,} messages in {elapsed:.1f} s = "
                    f"{created / elapsed:,.0f} messages/s; tracemalloc peak "
                    f"{peak / 2**20:.1f} MiB; max RSS so far {rss:.0f} MiB",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
