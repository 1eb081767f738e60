"""The task queue's worker: django-tasks-db's own, which also enqueues the periodic jobs
when they are due and reports in, so /readyz and the admin can tell a worker is alive.

`manage.py work` runs it; `work(once=True)` works what is due and returns (cron, tests).
"""

from __future__ import annotations

import socket
import time

from django.db import OperationalError, close_old_connections, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker as DatabaseWorker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from smsapp.models import PeriodicJob, QueueWorker
from smsapp.tasks import periodic_jobs


def enqueue_due() -> list[str]:
    """Enqueue each periodic job that is due, and return their names. The conditional
    UPDATE moves the job's next run forward; only the worker whose UPDATE changed the row
    enqueues it, so two workers polling at the same moment never enqueue it twice."""
    now = timezone.now()
    enqueued = []
    for name, job in periodic_jobs().items():
        PeriodicJob.objects.get_or_create(name=name, defaults={"next_run_at": now})
        with transaction.atomic():
            claimed = PeriodicJob.objects.filter(name=name, next_run_at__lte=now).update(
                next_run_at=now + job.every, last_enqueued_at=now
            )
            if claimed:
                job.task.enqueue()
                enqueued.append(name)
    return enqueued


class Worker(DatabaseWorker):
    """django-tasks-db's worker (its job claiming, running and recording), in a loop that
    also enqueues the periodic jobs and reports in."""

    def __init__(self, *, once: bool = False, interval: float = 1.0) -> None:
        super().__init__(
            queue_names=["default"],
            interval=interval,
            batch=once,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=get_random_string(32),
            excluded_queue_names=[],
        )
        self.once = once
        self.started_at = timezone.now()

    def report_in(self) -> None:
        QueueWorker.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={
                "hostname": socket.gethostname()[:255],
                "started_at": self.started_at,
                "seen_at": timezone.now(),
            },
        )

    def claim_next(self) -> DBTaskResult | None:
        """The next ready job, claimed for this worker: SELECT ... FOR UPDATE SKIP LOCKED on
        PostgreSQL, an exclusive transaction on SQLite, so no two workers take one job."""
        ready = DBTaskResult.objects.ready().filter(
            backend_name=self.backend_name, queue_name__in=self.queue_names
        )
        try:
            with exclusive_transaction(ready.db):
                job = ready.get_locked()
                if job is not None:
                    job.claim(self.worker_id)
                return job
        except OperationalError as error:
            if is_locked_database_exception(error):
                return None  # another worker is claiming; look again next round
            raise

    def run(self) -> None:
        while self.running:
            self.report_in()
            enqueue_due()
            while self.running and (job := self.claim_next()) is not None:
                self.report_in()  # a worker working through a backlog is alive too
                self.run_task(job)
            if self.once:
                return
            close_old_connections()  # as after a request: drop broken or expired ones
            time.sleep(self.interval)


def work(*, once: bool = True) -> None:
    """Work the queue in this process: what is ready now (`once`), or until stopped."""
    Worker(once=once).run()
