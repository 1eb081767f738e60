"""One writer at a time on SQLite, queued by the operating system.

SQLite lets one connection write at a time. A connection that finds the database locked
polls with growing sleeps (1, 2, 5 ... 100 ms, up to the busy timeout), so under a burst of
webhooks a few writers wait many times longer than the write itself takes, even after the
lock is free. Taking an OS file lock first makes waiting writers block in the kernel and
wakes the next one as soon as the current one commits. PostgreSQL queues writers on row
locks itself, so there this is a no-op, as it is for in-memory databases and on systems
without fcntl.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections

try:
    import fcntl
except ImportError:  # Windows: SQLite's own busy timeout still applies
    fcntl = None


def _lock_path(using: str) -> str | None:
    connection = connections[using]
    if connection.vendor != "sqlite" or fcntl is None:
        return None
    name = str(connection.settings_dict["NAME"])
    if connection.is_in_memory_db() or not name:
        return None
    return f"{name}.write-lock"


@contextmanager
def write_lock(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Hold around a short write transaction (taken before BEGIN, released after COMMIT).

    Inside an outer transaction it does nothing: that transaction may already hold
    SQLite's lock, and waiting for the file lock while holding it could deadlock with a
    writer that holds the file lock and waits for SQLite's.
    """
    path = _lock_path(using)
    if path is None or connections[using].in_atomic_block:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
