"""The app's background jobs, on Django's Tasks API (django-tasks, with the
django-tasks-db backend: jobs live in the app's own database and `manage.py work` runs
them, on as many machines as needed, each job once).

Each job is a `@task()` beside the service function it runs, so a service queues its own
jobs without a circle of imports; their arguments are JSON (SIDs and ids, never message
bodies). The jobs:

    services/sync.py       run_sync_job (POST sync), reconcile_job (periodic)
    services/scheduled.py  send_scheduled (at a text's due time), recover_stuck_sends
    services/lookup.py     look_up_send (a send whose outcome is unknown)
    services/media.py      cache_media (right after an inbound MMS)
    services/audit.py      purge_audit_events (periodic: past AUDIT_RETENTION_DAYS)
    services/chart.py      record_in_charts (texts into Canvas charts; also periodic, for
                           retries), push_badge (the unread total to Canvas's icon)
    this module            purge_launch_tokens (periodic)

The workers enqueue the periodic ones themselves (periodic_jobs, smsapp.worker).
"""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from django_tasks import task
from django_tasks.base import Task

from smsapp import canvas_gateway
from smsapp.models import LaunchTokenUse
from smsapp.services import audit, chart, scheduled, sync


class Periodic(NamedTuple):
    task: Task
    every: timedelta


@task()
def purge_launch_tokens() -> int:
    """Launch-token records past the token's lifetime: the signature check refuses those
    tokens by itself, so the rows only take room."""
    return LaunchTokenUse.objects.purge_expired()


def periodic_jobs() -> dict[str, Periodic]:
    """What the workers enqueue by themselves, by name, and how often."""
    jobs = {
        "purge_launch_tokens": Periodic(purge_launch_tokens, timedelta(hours=1)),
        "recover_stuck_sends": Periodic(scheduled.recover_stuck_sends, timedelta(minutes=5)),
        "purge_audit_events": Periodic(audit.purge_audit_events, timedelta(days=1)),
    }
    if canvas_gateway.is_configured():
        jobs["record_in_charts"] = Periodic(chart.record_in_charts, timedelta(minutes=1))
    if every := sync.reconcile_every():
        jobs["reconcile"] = Periodic(sync.reconcile_job, every)
    return jobs
