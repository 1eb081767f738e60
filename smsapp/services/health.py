"""Whether this server can do its job, for /readyz: the database answers, its migrations
are applied, a task worker is alive, and Twilio (or the offline sandbox) is configured.

Cheap enough to be polled every few seconds: once every migration is applied, one
indexed query (the newest worker report) answers the database and the worker parts.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from smsapp import twilio_gateway
from smsapp.models import QueueWorker

OK = "ok"

# Once every migration is applied, this process's code and the database agree until the
# process is replaced by a deploy, so the answer is kept; until then each poll looks again.
_migrations_applied = False


def _pending_migrations() -> list[str]:
    global _migrations_applied
    if _migrations_applied:
        return []
    executor = MigrationExecutor(connection)  # reads the migration files and one table
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    _migrations_applied = not plan
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def forget_migrations() -> None:
    """Look at the migrations again at the next check (tests)."""
    global _migrations_applied
    _migrations_applied = False


def _migrations() -> str:
    pending = _pending_migrations()
    if not pending:
        return OK
    return (
        f"{len(pending)} migration(s) are not applied (first: {pending[0]}): run manage.py migrate."
    )


def _worker() -> str:
    stale = settings.QUEUE_WORKER_STALE_SECONDS
    if QueueWorker.objects.filter(seen_at__gte=timezone.now() - timedelta(seconds=stale)).exists():
        return OK
    return (
        f"No task worker has reported in or taken a job in the last {stale} seconds: "
        "start manage.py work (deploy/README.md)."
    )


def _twilio() -> str:
    return OK if twilio_gateway.is_configured() else twilio_gateway.NOT_CONFIGURED


def readiness() -> dict[str, str]:
    """Each part, "ok" or a sentence saying what is wrong and what to do. The worker is
    looked at once the migrations are applied (its table may not exist before), and
    nothing that needs the database when it does not answer."""
    try:
        parts = {"database": OK, "migrations": _migrations()}
        if parts["migrations"] == OK:
            parts["worker"] = _worker()
    except DatabaseError as error:
        parts = {
            "database": f"The database does not answer ({type(error).__name__}): check "
            "DATABASE_URL and that the database server is up."
        }
    parts["twilio"] = _twilio()
    return parts
