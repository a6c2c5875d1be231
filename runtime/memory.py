"""Giving freed memory back to the system.

glibc keeps what a process frees in its own free lists; after a large structure goes (a closed
DuckDB database with its caches), those pages stay in the process's RSS until `malloc_trim`
returns them. Elsewhere (musl, macOS) there is nothing to do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache


@cache
def _trim():  # type: ignore[no-untyped-def]
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_memory() -> bool:
    """Return the C heap's free pages to the system; False where the C library cannot."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
