"""One commit lane per organization: the check-then-append of a batch runs alone.

DuckLake has no unique constraints, so two writers of one organization must not interleave
their "what exists already?" check and their append. On one machine (the embedded default) a
file lock in db/ is the lane; with a PostgreSQL catalog a session-level advisory lock is.

The advisory lane holds a session-level lock (pg_advisory_lock) on a connection of its own to
the catalog's database, opened for the lane and closed after it: a process that dies mid-commit
loses its session, and PostgreSQL releases the lock with it (as the kernel does for the flock).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


@contextmanager
def file_lane(locks_dir: Path, org_id: str) -> Iterator[None]:
    locks_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(locks_dir / f"{org_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def advisory_key(org_id: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock."""
    return int.from_bytes(hashlib.sha256(b"mailark-lane:" + org_id.encode()).digest()[:8], "big", signed=True)


@contextmanager
def advisory_lane(conninfo: str, org_id: str, *, connect_timeout: int = 30) -> Iterator[None]:
    """Hold the organization's advisory lock on the PostgreSQL server at `conninfo` (libpq string).

    Every process of every machine that writes the catalog takes the same key for the same
    organization, so their check-then-append runs one at a time; other organizations go on.
    """
    import psycopg  # only needed with a PostgreSQL catalog

    key = advisory_key(org_id)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=connect_timeout) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [key])
        try:
            yield
        finally:
            # A broken session has released the lock already; do not hide the error that broke it.
            with suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", [key])
