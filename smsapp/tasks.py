"""The app's background jobs, on Django's Tasks API (django-tasks, with the
django-tasks-db backend: jobs live in the app's own database and `manage.py work` runs
them, on as many machines as needed, each job once).

Each job is a thin wrapper around a function in smsapp.services or a model's manager;
its arguments are JSON (SIDs and ids, never message bodies). Jobs import the services
they call when they run: the services queue jobs, so importing them here at load time
would be circular.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from django_tasks import task
from django_tasks.base import Task

from smsapp.models import LaunchTokenUse


class Periodic(NamedTuple):
    task: Task
    every: timedelta


@task()
def purge_launch_tokens() -> int:
    """Launch-token records past the token's lifetime: the signature check refuses those
    tokens by itself, so the rows only take room."""
    return LaunchTokenUse.objects.purge_expired()


@task()
def run_sync(run_id: int) -> dict[str, int] | None:
    """A sync the page asked for (POST sync); the run records its progress and error."""
    from smsapp.services import sync

    return sync.run_queued(run_id)


@task()
def reconcile() -> str:
    """The periodic incremental sync (SYNC_EVERY_MINUTES)."""
    from smsapp.services import sync

    return sync.reconcile()


@task()
def send_scheduled(scheduled_id: str) -> str:
    """A scheduled text at its due time: sent exactly once, or retried, or held."""
    from smsapp.services import scheduled

    return scheduled.send_due(scheduled_id)


@task()
def recover_stuck_sends() -> int:
    """Scheduled texts a dead worker left `sending`: looked up, never sent again."""
    from smsapp.services import scheduled

    return scheduled.recover_stuck()


@task()
def look_up_send(attempt_id: str) -> str:
    """Find a send whose outcome is unknown on Twilio, and mirror it."""
    from smsapp.services import lookup

    return lookup.look_up(attempt_id)


@task()
def cache_media(message_sid: str) -> int:
    """Download an inbound MMS's media into storage right after the webhook answered,
    so the page shows them without waiting on Twilio."""
    from smsapp.services import media

    return media.cache_all(message_sid)


def periodic_jobs() -> dict[str, Periodic]:
    """What the workers enqueue by themselves, by name, and how often."""
    from smsapp.services import sync

    jobs = {
        "purge_launch_tokens": Periodic(purge_launch_tokens, timedelta(hours=1)),
        "recover_stuck_sends": Periodic(recover_stuck_sends, timedelta(minutes=5)),
    }
    if every := sync.reconcile_every():
        jobs["reconcile"] = Periodic(reconcile, every)
    return jobs
