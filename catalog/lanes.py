"""One commit lane per organization: the check-then-append of a batch runs alone.

DuckLake has no unique constraints, so two writers of one organization must not interleave
their "what exists already?" check and their append. On one machine (the embedded default) a
file lock in db/ is the lane; with a PostgreSQL catalog a session-level advisory lock is.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
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
