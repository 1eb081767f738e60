"""Sends per second through POST sms_send: the API, the consent check, the real twilio SDK
and the mirror, against a local stand-in for Twilio's Messages API.

    .venv/bin/python bench/send_bench.py                       # SQLite, 5 rounds of 200
    .venv/bin/python bench/send_bench.py --db postgres --rounds 6 --sends 300

Sends through Django's test client, signed in as an SMS administrator, from one number to
a new patient each time (each send takes its consent row, as a first text does), on a
throw-away database (a temporary SQLite file, or `bench_send` at BENCH_POSTGRES_URL,
default postgres://postgres@127.0.0.1:5432, created and dropped). The stand-in
(tests/twilio_standin.py) answers in this process, as the sandbox's transport reaches it.

With the audit trail (smsapp.services.audit) present, rounds alternate between recording
and not recording (audit.record replaced by a function that does nothing), so whatever
else runs on the machine weighs on both alike; the ratio is what the audit costs. On a
branch without it every round is the same code. Prints sends/s and CPU ms per send.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FROM = "+15005550006"
DATABASE = "bench_send"


def configure(url: str, twilio_url: str) -> None:
    os.environ.update(
        {
            "SECRET_KEY": secrets.token_urlsafe(40),
            "DATABASE_URL": url,
            "TWILIO_SANDBOX": "true",  # the sandbox's transport, pointed at the stand-in
            "SANDBOX_BASE_URL": twilio_url,
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "ALLOWED_HOSTS": "testserver",
        }
    )


def audit_switch():
    """(on, off) callables that put the real audit.record back or replace it with a no-op;
    None when this branch has no audit trail."""
    try:
        from smsapp.services import audit
    except ImportError:
        return None
    real = audit.record

    def on() -> None:
        audit.record = real

    def off() -> None:
        audit.record = lambda *args, **kwargs: None

    return on, off


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sends", type=int, default=200, help="per round")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from bench.throwaway import database
    from tests.twilio_standin import TwilioStandIn

    stand_in = TwilioStandIn()
    try:
        with database(args.db, DATABASE) as url:
            configure(url, stand_in.url)
            import django

            django.setup()
            run(args, stand_in)
    finally:
        stand_in.close()


def run(args, stand_in) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client

    from smsapp.models import Message, Phone
    from smsapp.roles import ADMINISTRATORS

    call_command("migrate", verbosity=0)
    Phone.objects.create(sid="PN" + "0" * 32, phone_number=FROM, sms=True, mms=True)
    user = get_user_model().objects.create_user("bench")
    user.groups.add(Group.objects.get(name=ADMINISTRATORS))
    client = Client()
    client.force_login(user)
    url = "/plugin-io/api/twilio_sms_mms/sms_send"
    counter = [0]

    def send_round(n: int) -> tuple[float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            counter[0] += 1
            response = client.post(
                url,
                {"numberFrom": FROM, "numberTo": f"+14155{counter[0]:06d}", "text": "See you soon"},
                content_type="application/json",
            )
            if response.status_code != 200:
                raise SystemExit(f"send failed: {response.status_code} {response.content[:300]}")
        return time.perf_counter() - started, time.process_time() - cpu

    switch = audit_switch()
    modes = ["audit on", "audit off"] if switch else ["this branch (no audit trail)"]
    send_round(min(50, args.sends))  # warm-up: connections, caches, first consent rows
    totals = {mode: [0, 0.0, 0.0] for mode in modes}
    for r in range(args.rounds):
        mode = modes[r % len(modes)]
        if switch:
            (switch[0] if mode == "audit on" else switch[1])()
        wall, cpu = send_round(args.sends)
        totals[mode][0] += args.sends
        totals[mode][1] += wall
        totals[mode][2] += cpu
    if switch:
        switch[0]()

    print(f"{args.db}, {args.rounds} rounds of {args.sends} sends through POST sms_send")
    for mode, (count, wall, cpu) in totals.items():
        print(f"{mode:>30}: {count / wall:.0f} sends/s, CPU {cpu / count * 1000:.2f} ms/send")
    if switch:
        (on, wall_on, _), (off, wall_off, _) = totals.values()
        print(f"throughput with the audit / without: {(on / wall_on) / (off / wall_off):.2f}")
        from smsapp.models import AuditEvent

        print(f"audit events written: {AuditEvent.objects.count()}")
    print(f"messages mirrored: {Message.objects.count()}, POSTs to Twilio: {stand_in.posts}")
    print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
