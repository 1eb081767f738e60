"""How many signed status callbacks per second the app takes, against a bare view.

Serves the app with gunicorn on loopback, on a temporary SQLite file database (migrated
here, with 500 mirrored messages, each the newest of its conversation), and for a bounded
time sends SIGNED status callbacks (outbound_api_status, signed with the SDK's
RequestValidator for PUBLIC_BASE_URL as Twilio does) from a fixed number of concurrent
clients. Then it does the same against `bare/`, a view on the same server that only
answers 200 (bench/webhook_urls.py). Prints callbacks/s, the ratio to the bare view,
p50/p99 latency, errors, and whether every callback answered 200 was stored as a
StatusEvent. Goal on SQLite: ratio >= 0.5, p99 < 50 ms, no errors, no lost events.

    .venv/bin/python bench/webhook_load.py
    .venv/bin/python bench/webhook_load.py --duration 30 --worker-class gthread --threads 8
    .venv/bin/python bench/webhook_load.py --messages 10000   # most callbacks move a status

Workers: gunicorn's sync workers by default, one per core plus one. A status callback is
a few milliseconds of CPU and one short write; sync workers run that in parallel across
processes without sharing a GIL, and SQLite serialises the writes itself (WAL, BEGIN
IMMEDIATE, busy timeout; project/settings.py). gthread is there to compare.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STATUS_PATH = "/plugin-io/api/twilio_sms_mms/outbound_api_status"
BARE_PATH = "/bare/"
PUBLIC_BASE_URL = "https://sms.example.org"  # as in bench/webhook_settings.py
AUTH_TOKEN = "bench-auth-token"  # as in bench/webhook_settings.py
MESSAGES = 500
# Every message goes through these in a shuffled order, as Twilio may deliver them.
STATUSES = ["queued", "sending", "sent", "delivered"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=18300, help="18300-18399")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per view")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of the two views")
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1)
    parser.add_argument("--threads", type=int, default=1, help="per worker (gthread)")
    parser.add_argument(
        "--messages", type=int, default=MESSAGES, help="mirrored; 4 callbacks each, in turn"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="webhook-load-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.webhook_settings",
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "DEBUG": "false",
        "TWILIO_SANDBOX": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)
    # --skip-checks: a benchmark is not a deployment; it collects no static files, which
    # the start-up checks would otherwise demand with DEBUG off.
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "--skip-checks", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    sids = _seed(args.messages)
    bodies = _signed_bodies(sids)

    log = open(workdir / "gunicorn.log", "w")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "project.wsgi:application",
            f"--bind=127.0.0.1:{args.port}",
            f"--workers={args.workers}",
            f"--worker-class={args.worker_class}",
            f"--threads={args.threads}",
            "--log-level=warning",
            f"--chdir={ROOT}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(args.port)
        per_round = args.duration / args.rounds
        print(
            f"gunicorn {args.worker_class} workers={args.workers} threads={args.threads}, "
            f"SQLite file db, {args.concurrency} concurrent clients, {args.duration:g} s each "
            f"in {args.rounds} alternating rounds"
        )
        _load(args.port, STATUS_PATH, bodies, args.concurrency, 2.0)  # warm-up, both views
        _load(args.port, BARE_PATH, bodies, args.concurrency, 2.0)
        # Alternate short rounds, so whatever else runs on the machine weighs on both alike.
        webhook, bare, stored = Phase(), Phase(), 0
        for _ in range(args.rounds):
            before, cpu = _events(), _server_cpu(server.pid)
            webhook.add(_load(args.port, STATUS_PATH, bodies, args.concurrency, per_round))
            webhook.cpu += _server_cpu(server.pid) - cpu
            stored += _events() - before
            cpu = _server_cpu(server.pid)
            bare.add(_load(args.port, BARE_PATH, bodies, args.concurrency, per_round))
            bare.cpu += _server_cpu(server.pid) - cpu
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

    _report("status callbacks", webhook)
    _report("bare view", bare)
    ratio = webhook.rate / bare.rate
    lost = webhook.ok - stored
    print(f"ratio to bare view: {ratio:.2f}")
    print(f"events stored: {stored} of {webhook.ok} callbacks answered 200 (lost: {lost})")
    goal = ratio >= 0.5 and webhook.p99 < 50 and not webhook.errors and lost == 0
    print(f"goal (ratio >= 0.5, p99 < 50 ms, 0 errors, 0 lost): {'met' if goal else 'MISSED'}")
    if webhook.errors or bare.errors:
        print(f"server log: {workdir / 'gunicorn.log'}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def _seed(count: int) -> list[str]:
    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from smsapp.models import Message
    from smsapp.services import inbox

    now = timezone.now()
    messages = [
        Message(
            sid=f"SM{n:032x}",
            direction="outbound-api",
            from_number="+14155550100",
            to_number=f"+1415556{n:04d}",
            body="Your appointment is tomorrow at 9:00.",
            status="accepted",
            date_created=now,
        )
        for n in range(count)
    ]
    Message.objects.bulk_create(messages)
    # Each message the newest of its conversation, so every callback that moves a status
    # also moves its conversation's (smsapp.services.inbox.status_changed): the most a
    # callback costs.
    with transaction.atomic():
        inbox.record_new(inbox.message_row(m) for m in messages)
    return [m.sid for m in messages]


def _events() -> int:
    from django.db import connection

    from smsapp.models import StatusEvent

    connection.close()  # a fresh read, after the server's commits
    return StatusEvent.objects.count()


def _signed_bodies(sids: list[str]) -> list[tuple[bytes, str]]:
    """Form bodies shaped like Twilio's callbacks, each with its X-Twilio-Signature."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(AUTH_TOKEN)
    url = PUBLIC_BASE_URL + STATUS_PATH
    bodies = []
    for m, sid in enumerate(sids):
        # A different order per message: delivered may arrive before sent.
        for status in STATUSES[m % 4 :] + STATUSES[: m % 4]:
            params = {
                "MessageSid": sid,
                "SmsSid": sid,
                "MessageStatus": status,
                "SmsStatus": status,
                "AccountSid": "AC" + "0" * 32,
                "From": "+14155550100",
                "To": "+14155556000",
                "ApiVersion": "2010-04-01",
            }
            signature = validator.compute_signature(url, params)
            bodies.append((urlencode(params).encode(), signature))
    return bodies


def _server_cpu(master_pid: int) -> float:
    """CPU seconds used so far by gunicorn's workers (Linux /proc; 0 elsewhere). The
    machine's cores are shared with the load clients and whatever else runs, so CPU per
    request is the steadier number when the wall-clock rates are noisy."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that just ended
        if int(fields[1]) == master_pid:  # ppid
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / ticks


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not start on port {port}")


def _load(
    port: int, path: str, bodies: list[tuple[bytes, str]], concurrency: int, duration: float
) -> Phase:
    """`concurrency` clients, each sending its next request as soon as the last answered,
    for `duration` seconds. A new connection per request, as Twilio's webhooks arrive."""
    barrier = threading.Barrier(concurrency + 1)
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    failures: list[list[str]] = [[] for _ in range(concurrency)]
    stop_at = [0.0]

    def client(i: int) -> None:
        barrier.wait()
        n = i
        while time.perf_counter() < stop_at[0]:
            body, signature = bodies[n % len(bodies)]
            n += concurrency
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
                "Host": "127.0.0.1",
            }
            started = time.perf_counter()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
                response.read()
                connection.close()
                if response.status != 200:
                    failures[i].append(f"HTTP {response.status}")
            except (OSError, http.client.HTTPException) as exc:
                failures[i].append(repr(exc))
            latencies[i].append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + duration
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    return Phase(
        times=[t for per_client in latencies for t in per_client],
        errors=[f for per_client in failures for f in per_client],
        elapsed=time.perf_counter() - started,
    )


@dataclass
class Phase:
    """Requests against one view: latencies (s), failures, wall time and server CPU (s)."""

    times: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    cpu: float = 0.0

    def add(self, other: Phase) -> None:
        self.times += other.times
        self.errors += other.errors
        self.elapsed += other.elapsed

    @property
    def ok(self) -> int:
        return len(self.times) - len(self.errors)

    @property
    def rate(self) -> float:
        return len(self.times) / self.elapsed

    @property
    def p50(self) -> float:
        return _percentile(sorted(self.times), 50) * 1000

    @property
    def p99(self) -> float:
        return _percentile(sorted(self.times), 99) * 1000


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(pct / 100 * (len(sorted_values) - 1)))
    return sorted_values[index]


def _report(name: str, phase: Phase) -> None:
    print(
        f"{name:>16}: {len(phase.times)} requests, {phase.rate:.0f}/s, "
        f"p50 {phase.p50:.1f} ms, p99 {phase.p99:.1f} ms, errors {len(phase.errors)}"
        + (f" {phase.errors[:3]}" if phase.errors else "")
        + f", server CPU {phase.cpu / len(phase.times) * 1000:.2f} ms/request"
    )


if __name__ == "__main__":
    main()
