import logging
import re
import time
from pathlib import Path

import pytest
import responses as responses_lib
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import post_save

from smsapp.models import Message
from smsapp.roles import ADMINISTRATORS, AGENTS
from smsapp.twilio_gateway import calls
from smsapp.twilio_gateway import client as twilio_client
from tests.production import manage, production_env


@pytest.fixture(autouse=True)
def _fresh_twilio_client():
    """The gateway caches its client per credentials, and its circuit breaker counts
    timeouts per process: no test may see what another one left behind."""
    twilio_client._client.cache_clear()
    calls.breaker.reset()
    yield
    twilio_client._client.cache_clear()
    calls.breaker.reset()


def _transactional(request) -> bool:
    """Whether pytest-django gives this test a real database that is emptied afterwards
    (its own rule, in _django_db_helper)."""
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or marker.args[:1] == (True,))) or (
        "transactional_db" in request.fixturenames or "live_server" in request.fixturenames
    )


@pytest.fixture(autouse=True)
def _audit_trail_may_be_emptied(request):
    """A transactional test ends with a flush (DELETE FROM every table on SQLite, in no
    fixed order; one TRUNCATE on PostgreSQL), which the audit trail's triggers refuse
    while it holds a recent entry. Just before the flush, the retention they read is set
    to 0 days and the entries made so far are deleted (this fixture is set up after the
    database, so it is torn down before it)."""
    if not _transactional(request):
        yield
        return
    request.getfixturevalue("_django_db_helper")
    yield
    from smsapp.models import AuditEvent, AuditRetention

    AuditRetention.objects.update_or_create(pk=1, defaults={"days": 0})
    time.sleep(0.005)  # SQLite's trigger reads its clock to the millisecond: be past it
    AuditEvent.objects.all().delete()


@pytest.fixture
def mocked_twilio():
    """Twilio at the HTTP layer: the real SDK runs, every unmatched request fails."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def user_in_role(role: str, username: str, **fields):
    """A user in one of the SMS roles (smsapp.roles), as an administrator would set up."""
    user = get_user_model().objects.create_user(username=username, **fields)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def staff_client(client, db):
    """Signed in as an SMS administrator: may do everything the page offers."""
    client.force_login(user_in_role(ADMINISTRATORS, "staff", password="staff-password"))
    return client


@pytest.fixture
def agent_client(client, db):
    """Signed in as an SMS agent: may read conversations and send, nothing more."""
    client.force_login(user_in_role(AGENTS, "agent", password="agent-password"))
    return client


@pytest.fixture
def run_jobs(db):
    """Work the task queue in this process, as `manage.py work --once` does: every job
    that is due, the periodic ones included."""
    from smsapp.worker import work

    return work


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory) -> Path:
    """A STATIC_ROOT filled by `manage.py collectstatic` with the production settings."""
    folder = tmp_path_factory.mktemp("collected")
    env = production_env(folder)
    result = manage("collectstatic", "--no-input", "-v0", env=env)
    assert result.returncode == 0, result.stderr
    return Path(env["STATIC_ROOT"])


# --- no patient data in the logs ---------------------------------------------------------
# Every line the app's log handler writes while the suite runs is kept, with every message
# body the suite stored; at the end, a line holding a full phone number or a body fails
# the run (pytest_sessionfinish), whichever test wrote it.

FULL_NUMBER = re.compile(r"(?:\+|%2[Bb])\d{8,15}")
# The bodies tests/twilio_payloads.py and the factories make up, stored or not.
MADE_UP_BODY = re.compile(r"Message number \d+")
SHORTEST_BODY = 8  # shorter ones ("Hi", "hello") are words any log line may hold

written_lines: list[str] = []
stored_bodies: set[str] = set()


class _WrittenLines(logging.Handler):
    """Keeps each line as the app's `console` handler writes it (its filters mask, its
    formatter formats), whichever logger or thread the record came from."""

    def __init__(self, console: logging.Handler) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= self.console.level and self.console.filter(record):
            written_lines.append(self.console.format(record))


def _remember_body(sender, instance: Message, **kwargs) -> None:
    if len(instance.body.strip()) >= SHORTEST_BODY:
        stored_bodies.add(instance.body.strip())


def _console() -> logging.Handler:
    return next(h for h in logging.getLogger().handlers if h.name == "console")


@pytest.fixture(autouse=True, scope="session")
def _record_log_lines():
    recorder = _WrittenLines(_console())
    logging.getLogger().addHandler(recorder)
    post_save.connect(_remember_body, sender=Message, dispatch_uid="tests.remember_body")
    yield recorder
    post_save.disconnect(sender=Message, dispatch_uid="tests.remember_body")
    logging.getLogger().removeHandler(recorder)


@pytest.fixture(autouse=True)
def _keep_recording(_record_log_lines):
    """A test that runs manage.py in-process sets logging up again, which replaces the
    root logger's handlers: record through the new console handler from then on."""
    yield
    root = logging.getLogger()
    if _record_log_lines not in root.handlers:
        _record_log_lines.console = _console()
        root.addHandler(_record_log_lines)


def patient_data_in(lines: list[str], bodies: set[str]) -> list[str]:
    """The lines that hold a full phone number or one of `bodies`."""
    return [
        line
        for line in lines
        if FULL_NUMBER.search(line)
        or MADE_UP_BODY.search(line)
        or any(body in line for body in bodies)
    ]


def pytest_sessionfinish(session) -> None:
    leaked = patient_data_in(written_lines, stored_bodies)
    if leaked:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_line(
            f"{len(leaked)} log line(s) written during the tests hold a full phone number "
            "or a message body:",
            red=True,
        )
        for line in leaked[:20]:
            reporter.write_line(f"  {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
