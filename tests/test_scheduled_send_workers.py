"""Exactly once across processes: two `manage.py work` processes on PostgreSQL work 1,000
scheduled texts that are due at once, each queued twice (as a stray rerun would), against
a local stand-in for Twilio that counts every POST."""

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from smsapp.models import ScheduledMessage
from smsapp.services import scheduled
from tests.factories import PhoneFactory
from tests.twilio_standin import TwilioStandIn

ROOT = Path(__file__).resolve().parent.parent
US = "+15005550006"
TEXTS = 1000

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
)


def database_url() -> str:
    """The test database, for processes started by the test."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_env(twilio_url: str) -> dict[str, str]:
    """A worker on the test database whose Twilio is the stand-in (through the sandbox's
    transport: the same real twilio client, another address)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SANDBOX_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings",
        SECRET_KEY="tests-only-not-a-secret",
        DATABASE_URL=database_url(),
        TWILIO_SANDBOX="true",
        SANDBOX_BASE_URL=twilio_url,
        LOG_LEVEL="WARNING",
        QUIET_HOURS="",  # San Francisco's night must not hold the texts (tests/settings.py)
    )
    return env


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_send_each_of_a_thousand_due_texts_exactly_once():
    stand_in = TwilioStandIn()
    PhoneFactory(phone_number=US, sms=True)
    now = timezone.now()
    items = ScheduledMessage.objects.bulk_create(
        ScheduledMessage(
            from_number=US, to_number="+14155550199", body=f"Reminder {i}", send_at=now
        )
        for i in range(TEXTS)
    )
    for _ in range(2):
        for item in items:
            scheduled.send_scheduled.using(run_after=now).enqueue(str(item.pk))

    # --skip-checks: the start-up checks want collected static files, which no worker needs.
    command = [sys.executable, "manage.py", "work", "--once", "-v0", "--skip-checks"]
    env = worker_env(stand_in.url)
    workers = [subprocess.Popen(command, cwd=ROOT, env=env) for _ in range(2)]  # noqa: S603
    try:
        codes = [worker.wait(timeout=600) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
        stand_in.close()

    assert codes == [0, 0]
    assert stand_in.sent == Counter({f"Reminder {i}": 1 for i in range(TEXTS)})
    assert ScheduledMessage.objects.filter(state="sent").count() == TEXTS
    jobs = DBTaskResult.objects.filter(task_path="smsapp.services.scheduled.send_scheduled")
    assert jobs.filter(status="SUCCESSFUL").count() == 2 * TEXTS
    workers_used = {worker for ids in jobs.values_list("worker_ids", flat=True) for worker in ids}
    assert len(workers_used) == 2  # both processes took a share
