"""Is there room for one more message? The endpoint asks for every recipient, so the answer is cached.

Room means: what the catalogue says the organization uses (catalog.ingest.storage_used, the
figure ingest defers by) plus its drops not drained yet, plus what this endpoint accepted since
it last looked, plus the new message, stays within the organization's storage quota (the
control plane's figure, read with the address table). The figures are re-read after
`ttl` seconds, so a quota raised by the admin or space freed by a deletion is seen within that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Usage:
    used: int
    at: float


class QuotaGate:
    def __init__(self, used: Callable[[str], int], ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._used = used
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, _Usage] = {}
        self._lock = threading.Lock()

    def used(self, org_id: str) -> int:
        """Bytes in use as of at most `ttl` seconds ago, plus what was accepted since."""
        now = self._clock()
        with self._lock:
            u = self._cache.get(org_id)
            if u is not None and now - u.at < self._ttl:
                return u.used
        fresh = self._used(org_id)  # outside the lock: it reads the catalogue
        with self._lock:
            self._cache[org_id] = _Usage(fresh, now)
        return fresh

    def has_room(self, org_id: str, quota: int | None, incoming: int) -> bool:
        if quota is None:
            return True
        used = self.used(org_id)
        return used < quota and used + incoming <= quota

    def accepted(self, org_id: str, nbytes: int) -> None:
        with self._lock:
            u = self._cache.get(org_id)
            if u is not None:
                u.used += nbytes
