"""The database of one benchmark run: an empty one, gone when the run ends.

SQLite: a file in a temporary folder. PostgreSQL: a database created on the server
BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432) and dropped afterwards.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")


def kinds(choice: str) -> tuple[str, ...]:
    """The databases a `--db sqlite|postgres|both` option names, in the order they run."""
    return ("sqlite", "postgres") if choice == "both" else (choice,)


@contextmanager
def database(kind: str, name: str) -> Iterator[str]:
    """Yields the DATABASE_URL of an empty database for `kind` ("sqlite" or "postgres";
    `name` names the PostgreSQL database and the SQLite folder), removed when the block
    ends."""
    if kind == "postgres":
        with postgres_database(name) as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix=f"{name}-") as folder:
            yield f"sqlite:///{folder}/bench.sqlite3"


@contextmanager
def postgres_database(name: str) -> Iterator[str]:
    """Yields the DATABASE_URL of a fresh database `name` (one left by a failed run is
    dropped first), and drops it when the block ends (closing what is still connected)."""
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
