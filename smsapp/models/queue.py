"""What the task queue's workers keep besides the jobs themselves (django-tasks-db keeps
those): when each periodic job is next due, and which workers reported in lately."""

from __future__ import annotations

from django.db import models


class PeriodicJob(models.Model):
    """A job the workers enqueue by themselves every so often (smsapp.tasks.periodic_jobs).
    Whichever worker moves `next_run_at` forward enqueues the run, so several workers on
    several machines enqueue it once (smsapp.worker.enqueue_due)."""

    name = models.CharField(max_length=64, unique=True)
    next_run_at = models.DateTimeField()
    last_enqueued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class QueueWorker(models.Model):
    """A worker process (`manage.py work`) and when it last reported in."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField()
    # Indexed for "is any worker alive?" (the newest report).
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"{self.worker_id} on {self.hostname or '?'}"
