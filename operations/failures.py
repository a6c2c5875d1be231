"""What a damaged file, a full disk or an I/O error means to the person who ran the command.

DuckDB, SQLite and the operating system report these with their own words and, uncaught, a
traceback. The CLI's error handling (mailark/cli/common.py) and the web app's
(dashboards/errors.py) turn them into one line through `explain`: what is damaged or full, and what
to do about it.
"""

from __future__ import annotations

import errno
import sqlite3

import duckdb

DAMAGE_HELP = ("run `mailark scrub --full` to name the damaged file and the mail it holds, then restore it from a "
               "backup (docs/operators.md, 'Damage')")
FULL_HELP = "free space on that disk (or give the archive a larger one) and run the command again; nothing half-written is kept"
IO_HELP = "check the disk and the system log (dmesg) and run the command again; if it persists, restore from a backup"

_DAMAGED_WORDS = ("aes tag", "no magic bytes", "corrupt", "invalid parquet", "not a parquet", "malformed",
                  "file is not a database", "checksum", "thrift", "parquet file")
_FULL_WORDS = ("no space left", "disk is full", "database or disk is full", "out of disk")
_IO_WORDS = ("disk i/o error", "input/output error", "i/o error")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _os_error(exc: BaseException) -> OSError | None:
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError):
            return e
        e = e.__cause__ or e.__context__
    return None


def explain(exc: BaseException) -> str | None:
    """One line for a damaged file, a full disk or an I/O error; None for any other error."""
    os_err = _os_error(exc)
    if os_err is not None and os_err.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" ({os_err.filename})" if os_err.filename else ""
        return f"the disk is full{where}: {FULL_HELP}"
    if os_err is not None and os_err.errno == errno.EIO:
        where = f" reading or writing {os_err.filename}" if os_err.filename else ""
        return f"an I/O error{where}: {IO_HELP}"
    database = _database_error(exc)
    if database is None:
        return None
    which, cause = database
    low = cause.lower()
    if any(w in low for w in _FULL_WORDS):
        return f"the disk is full ({which}: {cause}): {FULL_HELP}"
    if any(w in low for w in _IO_WORDS):
        return f"an I/O error in {which} ({cause}): {IO_HELP}"
    if any(w in low for w in _DAMAGED_WORDS):
        return f"{which} is damaged ({cause}): {DAMAGE_HELP}"
    return None


def _database_error(exc: BaseException) -> tuple[str, str] | None:
    """(which database, its first line) for a DuckDB or SQLite error, also wrapped by SQLAlchemy."""
    e: BaseException | None = exc
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, duckdb.Error):
            return "the catalogue (a Parquet file or its database)", _first_line(e)
        if isinstance(e, sqlite3.Error):
            return "the control plane's database", _first_line(e)
        orig = getattr(e, "orig", None)  # sqlalchemy.exc.DBAPIError
        if isinstance(orig, sqlite3.Error):
            return "the control plane's database", _first_line(orig)
        e = e.__cause__ or e.__context__
    return None
