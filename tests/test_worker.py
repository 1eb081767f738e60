"""The task queue's worker: it runs what is due once, enqueues the periodic jobs once
however many workers poll, and reports in."""

from datetime import timedelta

from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from smsapp import tasks
from smsapp.models import LaunchTokenUse, PeriodicJob, QueueWorker
from smsapp.roles import ADMINISTRATORS
from smsapp.worker import enqueue_due
from tests.conftest import user_in_role


def test_a_periodic_job_is_enqueued_once_per_period_however_often_workers_poll(db):
    first = enqueue_due()
    again = enqueue_due()

    assert "purge_launch_tokens" in first
    assert again == []
    assert DBTaskResult.objects.filter(task_path__endswith="purge_launch_tokens").count() == 1


def test_it_is_enqueued_again_once_its_period_has_passed(db):
    enqueue_due()
    PeriodicJob.objects.update(next_run_at=timezone.now() - timedelta(seconds=1))

    assert "purge_launch_tokens" in enqueue_due()
    assert DBTaskResult.objects.filter(task_path__endswith="purge_launch_tokens").count() == 2


def test_work_once_runs_due_jobs_and_reports_in(db):
    long_ago = timezone.now() - timedelta(days=1)
    LaunchTokenUse.objects.create(
        jti="old", staff_id="s", patient_id="p", used_at=long_ago, expires_at=long_ago
    )

    call_command("work", "--once", verbosity=0)

    assert not LaunchTokenUse.objects.exists()
    job = DBTaskResult.objects.get(task_path__endswith="purge_launch_tokens")
    assert job.status == "SUCCESSFUL" and job.return_value == 1
    assert QueueWorker.objects.filter(seen_at__gte=timezone.now() - timedelta(minutes=1)).exists()


def test_a_job_that_fails_keeps_its_error(db, run_jobs, monkeypatch):
    def broken(now=None):
        raise RuntimeError("the database said no")

    monkeypatch.setattr(LaunchTokenUse.objects, "purge_expired", broken)
    tasks.purge_launch_tokens.enqueue()

    run_jobs()

    failed = DBTaskResult.objects.filter(task_path__endswith="purge_launch_tokens")
    assert {job.status for job in failed} == {"FAILED"}
    for job in failed:  # the one enqueued here, and the periodic run
        assert job.exception_class_path == "builtins.RuntimeError"
        assert "the database said no" in job.traceback


def test_an_administrator_sees_a_failed_jobs_error_in_the_admin(db, run_jobs, monkeypatch):
    def broken(now=None):
        raise RuntimeError("the database said no")

    monkeypatch.setattr(LaunchTokenUse.objects, "purge_expired", broken)
    run_jobs()
    job = DBTaskResult.objects.filter(status="FAILED").first()
    admin = Client()
    admin.force_login(user_in_role(ADMINISTRATORS, "boss", is_staff=True))

    listing = admin.get(reverse("admin:django_tasks_database_dbtaskresult_changelist"))
    detail = admin.get(reverse("admin:django_tasks_database_dbtaskresult_change", args=[job.pk]))

    assert listing.status_code == 200
    assert detail.status_code == 200
    assert "the database said no" in detail.content.decode()
