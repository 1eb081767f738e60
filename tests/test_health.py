"""/healthz and /readyz: for load balancers and uptime monitors, with no sign-in and no
patient data, never cached, cheap enough to poll every few seconds; /readyz answers 503
naming each part that fails."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from smsapp.models import QueueWorker
from smsapp.services import health


@pytest.fixture(autouse=True)
def _fresh_migration_answer():
    health.forget_migrations()
    yield
    health.forget_migrations()


@pytest.fixture
def worker(db):
    return QueueWorker.objects.create(
        worker_id="w1", hostname="web-1", started_at=timezone.now(), seen_at=timezone.now()
    )


def test_healthz_says_the_process_answers_without_touching_the_database(client):
    response = client.get("/healthz")  # no `db` fixture: a query would raise

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_readyz_is_200_when_every_part_is_ready(client, worker):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "failing": [],
        "checks": {"database": "ok", "migrations": "ok", "worker": "ok", "twilio": "ok"},
    }
    assert "no-store" in response["Cache-Control"]
    assert response["X-Frame-Options"] == "DENY"


def test_a_poll_costs_one_query_once_the_migrations_are_known_applied(
    client, worker, django_assert_num_queries
):
    client.get("/readyz")  # reads the migrations once

    with django_assert_num_queries(1):
        assert client.get("/readyz").status_code == 200


def test_no_worker_reporting_in_lately_is_a_503_naming_it(client, worker, settings):
    settings.QUEUE_WORKER_STALE_SECONDS = 120
    QueueWorker.objects.update(seen_at=timezone.now() - timedelta(seconds=121))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]
    assert response.json()["checks"]["worker"] == (
        "No task worker has reported in or taken a job in the last 120 seconds: start "
        "manage.py work (deploy/README.md)."
    )


def test_no_worker_ever_is_a_503_too(client, db):
    assert client.get("/readyz").json()["failing"] == ["worker"]


def test_twilio_not_configured_is_a_503_naming_it(client, worker, settings):
    settings.TWILIO_ACCOUNT_SID = ""

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["twilio"]
    assert response.json()["checks"]["twilio"].startswith("Twilio is not configured: set")


def test_the_offline_sandbox_counts_as_configured(client, worker, settings):
    settings.TWILIO_SANDBOX = True
    settings.TWILIO_ACCOUNT_SID = "AC" + "5" * 32  # what settings.py sets in sandbox mode

    assert client.get("/readyz").status_code == 200


def test_a_migration_not_applied_is_a_503_naming_it(client, worker):
    newest = MigrationRecorder.Migration.objects.filter(app="smsapp").order_by("name").last()
    newest.delete()

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["migrations"]
    assert response.json()["checks"]["migrations"] == (
        f"1 migration(s) are not applied (first: smsapp.{newest.name}): run manage.py migrate."
    )
    assert "worker" not in response.json()["checks"]  # its table may not exist yet


@pytest.mark.django_db(transaction=True)
def test_a_database_that_does_not_answer_is_a_503_naming_it(client, monkeypatch):
    unreachable = (
        "/no-such-folder/sms.sqlite3" if connection.vendor == "sqlite" else "no_such_database"
    )
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "NAME", unreachable)
    try:
        response = client.get("/readyz")
    finally:
        connection.close()  # the next query connects with the real settings again
        monkeypatch.undo()

    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert response.json()["checks"]["database"].startswith(
        "The database does not answer (OperationalError): check DATABASE_URL"
    )
    assert set(response.json()["checks"]) == {"database", "twilio"}


def test_health_checks_are_answered_over_plain_http_when_https_is_enforced(
    client, worker, settings
):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/").status_code == 301
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_they_answer_get_and_head_only(client, worker):
    assert client.head("/readyz").status_code == 200
    assert client.post("/readyz").status_code == 405
    assert client.post("/healthz").status_code == 405
