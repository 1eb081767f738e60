"""The periodic reconciliation: with a real Twilio account, the workers run an
incremental sync every SYNC_EVERY_MINUTES (Twilio's status callbacks can be lost), never
two at once."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from smsapp import tasks
from smsapp.models import Message, PeriodicJob, SyncRun
from smsapp.services import sync
from smsapp.twilio_gateway.rest import message_record
from smsapp.worker import enqueue_due
from tests import twilio_payloads as tw

pytestmark = pytest.mark.django_db


@pytest.fixture
def every_15_minutes(settings):
    settings.SYNC_EVERY_MINUTES = 15


def _account(mocked_twilio):
    tw.add_paged_list(mocked_twilio, "IncomingPhoneNumbers.json", "incoming_phone_numbers", [[]])
    return tw.add_paged_list(mocked_twilio, "Messages.json", "messages",
                             [[tw.message_json(1, status="delivered")]])  # fmt: skip


def test_workers_reconcile_every_sync_every_minutes(every_15_minutes, mocked_twilio, run_jobs):
    _account(mocked_twilio)
    # The mirror says "sent": the "delivered" callback was lost.
    Message.objects.create(**{**message_record(tw.message_json(1)), "status": "sent"})

    run_jobs()

    run = SyncRun.objects.get()
    assert run.state == "finished"
    assert Message.objects.get(sid=tw.message_sid(1)).status == "delivered"
    due = PeriodicJob.objects.get(name="reconcile").next_run_at
    assert timedelta(minutes=14) < due - timezone.now() <= timedelta(minutes=15)


def test_it_is_incremental(every_15_minutes, mocked_twilio, run_jobs):
    listed = _account(mocked_twilio)
    SyncRun.objects.create(state="finished", finished_at=timezone.now())

    run_jobs()

    assert "DateSent>" in listed.requests[0]


@pytest.mark.parametrize(
    "settings_changes",
    [
        {"SYNC_EVERY_MINUTES": 0},
        {"SYNC_EVERY_MINUTES": 15, "TWILIO_SANDBOX": True},
        {"SYNC_EVERY_MINUTES": 15, "TWILIO_API_KEY": "", "TWILIO_AUTH_TOKEN": ""},
    ],
    ids=["switched-off", "sandbox", "not-configured"],
)
def test_there_is_no_reconciliation_without_a_real_account_or_with_0(
    settings, mocked_twilio, settings_changes
):
    for name, value in settings_changes.items():
        setattr(settings, name, value)

    assert "reconcile" not in tasks.periodic_jobs()
    assert "reconcile" not in enqueue_due()


def test_it_is_skipped_while_another_sync_runs(every_15_minutes, mocked_twilio, run_jobs):
    running = sync.claim_run()

    run_jobs()

    job = DBTaskResult.objects.get(task_path="smsapp.services.sync.reconcile_job")
    assert job.status == "SUCCESSFUL"
    assert job.return_value.startswith("skipped")
    assert list(SyncRun.objects.all()) == [running]
    assert len(mocked_twilio.calls) == 0
