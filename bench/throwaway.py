"""A PostgreSQL database for one benchmark run: created empty, dropped afterwards.

The server is BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")


@contextmanager
def postgres_database(name: str) -> Iterator[str]:
    """Yields the DATABASE_URL of a fresh database `name` (one left by a failed run is
    dropped first), and drops it when the block ends."""
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
