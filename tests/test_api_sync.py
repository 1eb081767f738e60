"""POST sync: the page's way to bring the mirror up to date, as a job a worker runs (as
manage.py sync_twilio does in its own process), followed at GET sync/<id>."""

import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from smsapp.models import Message, Phone, SyncRun
from smsapp.services import sync
from tests import twilio_payloads as tw

pytestmark = pytest.mark.django_db

URL = "/plugin-io/api/twilio_sms_mms/sync"


def _start(client):
    return client.post(URL, {}, content_type="application/json")


def _account(mocked_twilio, messages=3):
    tw.add_paged_list(mocked_twilio, "IncomingPhoneNumbers.json", "incoming_phone_numbers",
                      [[tw.phone_json(0), tw.phone_json(1)]])  # fmt: skip
    return tw.add_paged_list(mocked_twilio, "Messages.json", "messages",
                             [[tw.message_json(n) for n in range(messages)]])  # fmt: skip


def test_the_routes_are_under_the_plugins_prefix():
    assert reverse("smsapp:sync") == URL
    assert reverse("smsapp:sync_run", args=[7]) == f"{URL}/7"


def test_it_answers_202_at_once_and_a_worker_does_the_sync(staff_client, mocked_twilio, run_jobs):
    _account(mocked_twilio)

    response = _start(staff_client)

    assert response.status_code == 202
    run = SyncRun.objects.get()
    assert response.json() == {"id": run.pk, "state": "queued", "url": f"{URL}/{run.pk}"}
    assert len(mocked_twilio.calls) == 0  # nothing happened inside the request
    assert staff_client.get(f"{URL}/{run.pk}").json()["state"] == "queued"

    run_jobs()

    body = staff_client.get(f"{URL}/{run.pk}").json()
    assert body["state"] == "finished"
    assert body["phones"] == {"created": 2, "updated": 0, "unchanged": 0, "removed": 0}
    assert body["messages"]["created"] == 3
    assert (body["pages"], body["error"]) == (1, None)
    assert body["finishedAt"] is not None
    assert (Phone.objects.count(), Message.objects.count()) == (2, 3)


def test_the_run_shows_its_counts_page_by_page(mocked_twilio):
    pages = [[tw.message_json(n) for n in range(p * 2, p * 2 + 2)] for p in range(3)]
    tw.add_paged_list(mocked_twilio, "IncomingPhoneNumbers.json", "incoming_phone_numbers", [[]])
    tw.add_paged_list(mocked_twilio, "Messages.json", "messages", pages)
    seen = []

    def look(page, size, result):
        stored = SyncRun.objects.get().to_dict()
        seen.append((stored["state"], stored["pages"], stored["messages"]["created"]))

    sync.sync_all(on_page=look)

    assert seen == [("running", 1, 2), ("running", 2, 4), ("running", 3, 6)]


def test_twilio_refusing_the_credentials_fails_the_run_with_a_sentence(
    staff_client, mocked_twilio, run_jobs
):
    tw.add_error(mocked_twilio, "GET", "IncomingPhoneNumbers.json", 401, 20003)
    run_id = _start(staff_client).json()["id"]

    run_jobs()

    body = staff_client.get(f"{URL}/{run_id}").json()
    assert body["state"] == "failed"
    assert "TWILIO_API_KEY" in body["error"]
    # The job failed too, with its traceback kept for the admin's "Task results".
    job = DBTaskResult.objects.get(task_path="smsapp.services.sync.run_sync_job")
    assert job.status == "FAILED"
    assert "TWILIO_API_KEY" in job.traceback


def test_a_second_sync_while_one_is_queued_is_a_conflict_naming_it(staff_client, mocked_twilio):
    first = _start(staff_client).json()

    response = _start(staff_client)

    assert response.status_code == 409
    body = response.json()
    assert "already running" in body["information"]
    assert (body["id"], body["url"]) == (first["id"], first["url"])
    assert SyncRun.objects.count() == 1


def test_the_command_refuses_while_a_sync_runs(staff_client, mocked_twilio):
    _start(staff_client)

    with pytest.raises(CommandError, match="already running"):
        call_command("sync_twilio")
    assert len(mocked_twilio.calls) == 0


def test_the_database_refuses_a_second_active_run():
    SyncRun.objects.create(active=True)

    with pytest.raises(IntegrityError):
        SyncRun.objects.create(active=True)


@pytest.mark.parametrize(
    ("state", "words"), [("running", "stopped without finishing"), ("queued", "no worker")]
)
def test_a_run_that_stopped_moving_long_ago_does_not_block_syncing(
    staff_client, mocked_twilio, state, words
):
    old = SyncRun.objects.create(active=True, state=state)
    SyncRun.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    response = _start(staff_client)

    assert response.status_code == 202
    old.refresh_from_db()
    assert (old.state, old.active) == ("failed", None)
    assert words in old.error.lower()


def test_a_first_sync_from_the_page_reads_only_the_last_week(staff_client, mocked_twilio, run_jobs):
    tw.add_paged_list(mocked_twilio, "IncomingPhoneNumbers.json", "incoming_phone_numbers", [[]])
    listed = tw.add_paged_list(mocked_twilio, "Messages.json", "messages", [[]])

    _start(staff_client)
    run_jobs()

    week_ago = (timezone.now() - timedelta(days=7)).date()
    assert listed.requests[0]["DateSent>"] == f"{week_ago}T00:00:00Z"


def test_a_job_for_a_run_released_as_stale_does_nothing(mocked_twilio, run_jobs):
    run = sync.start_sync()
    SyncRun.objects.filter(pk=run.pk).update(state="failed", active=None)

    run_jobs()

    assert len(mocked_twilio.calls) == 0


def test_it_is_json_only(staff_client, mocked_twilio):
    assert Client().post(URL, {}, content_type="application/json").status_code == 401
    assert staff_client.post(URL, {"a": "b"}).status_code == 415  # a form post
    assert staff_client.get(URL).status_code == 405
    assert staff_client.get(f"{URL}/12345").status_code == 404
    assert len(mocked_twilio.calls) == 0


def test_agents_may_neither_start_nor_follow_a_sync(agent_client, mocked_twilio):
    run = SyncRun.objects.create()

    assert _start(agent_client).status_code == 403
    assert agent_client.get(f"{URL}/{run.pk}").status_code == 403


# --- never two at once, across processes ------------------------------------------------

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_ten_claims_at_the_same_moment_make_one_run():
    barrier = threading.Barrier(10)
    outcomes: list[str] = []

    def claim() -> None:
        try:
            barrier.wait(timeout=30)
            sync.claim_run()
            outcomes.append("claimed")
        except sync.SyncAlreadyRunning:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["claimed"] + ["refused"] * 9
    assert SyncRun.objects.filter(active=True).count() == 1
