"""The app's background jobs, on Django's Tasks API (django-tasks, with the
django-tasks-db backend: jobs live in the app's own database and `manage.py work` runs
them, on as many machines as needed, each job once).

Each job is a thin wrapper around a function in smsapp.services or a model's manager;
its arguments are JSON (SIDs and ids, never message bodies).
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


def periodic_jobs() -> dict[str, Periodic]:
    """What the workers enqueue by themselves, by name, and how often."""
    return {
        "purge_launch_tokens": Periodic(purge_launch_tokens, timedelta(hours=1)),
    }
