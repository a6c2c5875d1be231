"""Object store in a local directory: one file per object, path = root / name.

Atomicity comes from writing a temporary file ``.tmp-*`` in the target directory and then
linking (put_if_absent) or renaming (put) it into place, so a killed process leaves at most a
stray temporary file, never a partial object. ``os.link`` fails if the name exists, which makes
put_if_absent race-free across threads and processes sharing the directory.

Durability is batched: non-durable writes remember the files and directories they touched and
``flush()`` fsyncs exactly those (files first, then directories, so a directory entry never
becomes durable before its file's data has been asked to). Until that flush, a power loss (not a
process kill) may leave an empty or truncated object under its final name, as with any
unsynced file; callers therefore flush before they commit the catalogue rows that refer to the
objects, and readers detect damage through the objects' authenticated encryption.

Locks (WORM on): a locked object's file is made read-only (0400) and its retain-until date is
kept beside it in ``.worm-locks/<name>`` (also read-only, hidden from ``list()``); ``delete``
and ``put`` refuse a locked object in code. This is not WORM: anyone who can write the
directory (root, the service user) can still remove the files. Only S3 object lock is.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from mailark.storage.objects import (
    TEMP_PREFIX,
    ObjectInfo,
    ObjectLocked,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    locked_message,
    validate_name,
    validate_prefix,
)

_FILE_MODE = 0o600
_LOCKED_MODE = 0o400
#: Top-level directory of the lock sidecars (one small file per locked object: its retain-until).
LOCKS_DIR = ".worm-locks"
_DIR_MODE = 0o700
_NOT_FOUND = (FileNotFoundError, NotADirectoryError, IsADirectoryError)
# flush() fsyncs in parallel above this many paths: fsync releases the GIL and the
# filesystem journal commits concurrent fsyncs together.
_PARALLEL_FSYNC_MIN = 32
_FSYNC_THREADS = 16


class LocalObjectStore(ObjectStore):
    """Objects as files under ``root`` (created with mode 0700 if missing)."""

    def __init__(self, root: Path, *, worm: str | None = None) -> None:
        self.worm = worm
        self.root = Path(os.path.abspath(root))
        self._root_s = str(self.root)
        try:
            if not self.root.is_dir():
                self.root.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error("create the directory", None, exc) from exc
        self._lock = threading.Lock()
        self._dirty_files: set[str] = set()
        self._dirty_dirs: set[str] = set()

    # ---- helpers ------------------------------------------------------------------------
    def _path(self, name: str) -> str:
        return self._root_s + "/" + validate_name(name)

    def _error(self, what: str, name: str | None, exc: OSError) -> ObjectStoreError:
        target = f" object {name!r}" if name else ""
        reason = exc.strerror or str(exc)
        return ObjectStoreError(
            f"{self.describe()}: could not {what}{target}: {reason}. "
            "Check that the directory exists, is writable by this user and has free space "
            "(it is $MAILARK_HOME/objects)."
        )

    def _not_found(self, name: str) -> ObjectNotFound:
        return ObjectNotFound(f"object {name!r} not found in {self.describe()}", name)

    def _makedirs(self, dir_s: str) -> list[str]:
        """Create ``dir_s`` and missing parents; return the directories whose entries changed."""
        changed: list[str] = []
        missing: list[str] = []
        d = dir_s
        while d != self._root_s and not os.path.isdir(d):
            missing.append(d)
            d = os.path.dirname(d)
        for d in reversed(missing):
            try:
                os.mkdir(d, _DIR_MODE)
            except FileExistsError:
                if not os.path.isdir(d):
                    raise
                continue  # another writer made it; it records its own parent
            changed.append(os.path.dirname(d))
        return changed

    def _open_temp(self, dir_s: str) -> tuple[int, str, list[str]]:
        """Open a new temporary file in ``dir_s``, creating the directory if needed.

        The open is tried first: the directory usually exists, so the hot path costs no
        mkdir or stat syscalls, and a directory removed behind our back is simply recreated.
        """
        changed: list[str] = []
        for _ in range(3):
            tmp = f"{dir_s}/{TEMP_PREFIX}{secrets.token_hex(8)}"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _FILE_MODE)
                return fd, tmp, changed
            except FileNotFoundError:
                changed += self._makedirs(dir_s)
            except FileExistsError:
                continue
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _FILE_MODE)
        return fd, tmp, changed

    def _write_temp(self, dir_s: str, data: bytes, durable: bool) -> tuple[str, list[str]]:
        fd, tmp, changed = self._open_temp(dir_s)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            _unlink_quietly(tmp)
            raise
        os.close(fd)
        return tmp, changed

    def _after_write(self, final: str, dir_s: str, changed: list[str], durable: bool) -> None:
        """Record what a write touched, or sync it now if it must be durable."""
        if not durable:
            with self._lock:
                self._dirty_files.add(final)
                self._dirty_dirs.add(dir_s)
                self._dirty_dirs.update(changed)
            return
        # The file's data is synced (or is an existing file, synced here); now the entries
        # leading to it: its directory, directories created for it, and any ancestor left
        # dirty by an earlier non-durable write that created it.
        dirs = {dir_s, *changed}
        with self._lock:
            self._dirty_files.discard(final)
            d = dir_s
            while len(d) > len(self._root_s):
                parent = os.path.dirname(d)
                if parent in self._dirty_dirs:
                    dirs.add(parent)
                d = parent
            if self._root_s in self._dirty_dirs:
                dirs.add(self._root_s)
            self._dirty_dirs.difference_update(dirs)
        for d in sorted(dirs, key=len, reverse=True):
            _fsync_path(d, directory=True)

    # ---- writes -------------------------------------------------------------------------
    def put_if_absent(self, name: str, data: bytes, *, durable: bool = False,
                      retain_until: datetime | None = None) -> bool:
        created = self._put_if_absent(name, data, durable)
        if retain_until is not None and self.worm is not None:
            self.extend_retention(name, retain_until)
        return created

    def _put_if_absent(self, name: str, data: bytes, durable: bool) -> bool:
        final = self._path(name)
        dir_s = os.path.dirname(final)
        try:
            tmp, changed = self._write_temp(dir_s, data, durable)
            try:
                os.link(tmp, final)
                created = True
            except FileExistsError:
                created = False
            finally:
                _unlink_quietly(tmp)
            if not created:
                if not stat.S_ISREG(os.stat(final, follow_symlinks=False).st_mode):
                    raise ObjectStoreError(
                        f"{self.describe()}: {name!r} exists but is not a regular file "
                        "(a directory of objects?); choose names that are not prefixes of others"
                    )
                if durable:  # it may have been written non-durably and not flushed yet
                    _fsync_path(final)
            self._after_write(final, dir_s, changed, durable)
            return created
        except ObjectStoreError:
            raise
        except OSError as exc:
            raise self._error("write", name, exc) from exc

    def put(self, name: str, data: bytes, *, durable: bool = False) -> None:
        self._refuse_if_locked(name)
        final = self._path(name)
        dir_s = os.path.dirname(final)
        try:
            tmp, changed = self._write_temp(dir_s, data, durable)
            try:
                os.replace(tmp, final)
            except BaseException:
                _unlink_quietly(tmp)
                raise
            self._after_write(final, dir_s, changed, durable)
        except OSError as exc:
            raise self._error("write", name, exc) from exc

    def put_file(self, name: str, path: Path, *, durable: bool = False) -> None:
        """Copy ``path`` in (the source stays where it is; the kernel copies without Python)."""
        self._refuse_if_locked(name)
        final = self._path(name)
        dir_s = os.path.dirname(final)
        try:
            src = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ObjectStoreError(
                f"cannot read {path} to store it as {name!r}: {exc.strerror or exc}"
            ) from exc
        try:
            with src:
                fd, tmp, changed = self._open_temp(dir_s)
                try:
                    with open(fd, "wb", closefd=True) as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                        dst.flush()
                        if durable:
                            os.fsync(dst.fileno())
                    os.replace(tmp, final)
                except BaseException:
                    _unlink_quietly(tmp)
                    raise
            self._after_write(final, dir_s, changed, durable)
        except OSError as exc:
            raise self._error("write", name, exc) from exc

    # ---- locks --------------------------------------------------------------------------
    def _lock_path(self, name: str) -> str:
        return f"{self._root_s}/{LOCKS_DIR}/{validate_name(name)}"

    def retain_until(self, name: str) -> datetime | None:
        try:
            with open(self._lock_path(name), encoding="ascii") as f:
                return datetime.fromisoformat(f.read().strip())
        except _NOT_FOUND:
            return None
        except (OSError, ValueError) as exc:
            raise ObjectStoreError(
                f"{self.describe()}: the lock record of {name!r} is unreadable ({exc}); "
                "restore .worm-locks from backup before deleting anything"
            ) from exc

    def extend_retention(self, name: str, until: datetime) -> bool:
        """Record the later retain-until beside the object and make both read-only."""
        until = until.astimezone(UTC)
        if self.worm is None or until <= datetime.now(UTC):
            return False
        current = self.retain_until(name)
        if current is not None and current >= until:
            return False
        final = self._path(name)
        if not os.path.isfile(final):
            raise self._not_found(name)
        lock = self._lock_path(name)
        dir_s = os.path.dirname(lock)
        try:
            # durable with the object, at the batch's flush(): a lock is as durable as what it locks
            tmp, changed = self._write_temp(dir_s, until.isoformat().encode(), False)
            os.chmod(tmp, _LOCKED_MODE)
            os.replace(tmp, lock)  # a rename replaces the old read-only record
            os.chmod(final, _LOCKED_MODE)
        except OSError as exc:
            raise self._error("lock", name, exc) from exc
        self._after_write(lock, dir_s, changed, False)
        self._after_write(final, os.path.dirname(final), [], False)
        return True

    def _refuse_if_locked(self, name: str) -> None:
        until = self.retain_until(name)
        if until is not None and until > datetime.now(UTC):
            raise ObjectLocked(locked_message(self.describe(), name, until), name, until)

    def delete(self, name: str) -> None:
        """Remove the object (and its lock record); ObjectLocked before its retain-until."""
        self._refuse_if_locked(name)
        final = self._path(name)
        _unlink_quietly_any(self._lock_path(name))
        try:
            os.unlink(final)
        except FileNotFoundError:
            return
        except NotADirectoryError:
            return
        except IsADirectoryError:
            return  # a "directory" is no object: nothing of that name to delete
        except OSError as exc:
            raise self._error("delete", name, exc) from exc
        with self._lock:
            self._dirty_files.discard(final)
            self._dirty_dirs.add(os.path.dirname(final))

    def flush(self) -> None:
        with self._lock:
            files, self._dirty_files = self._dirty_files, set()
            dirs, self._dirty_dirs = self._dirty_dirs, set()
        try:
            _fsync_many(sorted(files), directory=False)
            # Deepest first: a new directory's own entries before its entry in its parent.
            _fsync_many(sorted(dirs, key=len, reverse=True), directory=True)
        except OSError as exc:
            with self._lock:  # nothing is known durable: try all of it again next time
                self._dirty_files |= files
                self._dirty_dirs |= dirs
            raise self._error("sync", None, exc) from exc

    def cleanup_temp(self, max_age: float = 3600.0) -> int:
        """Remove temporary files older than ``max_age`` seconds (left by killed writers).

        Run it now and then (e.g. from a maintenance flow), not on every start: it walks the
        whole tree. Young files are kept because a live writer may be about to link them.
        Returns how many files were removed.
        """
        cutoff = time.time() - max_age
        removed = 0
        for dirpath, _dirnames, filenames in os.walk(self._root_s):
            for fn in filenames:
                if not fn.startswith(TEMP_PREFIX):
                    continue
                p = os.path.join(dirpath, fn)
                try:
                    if os.stat(p, follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(p)
                        removed += 1
                except FileNotFoundError:
                    pass
        return removed

    # ---- reads --------------------------------------------------------------------------
    def _open_read(self, name: str) -> int:
        path = self._path(name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except _NOT_FOUND:
            raise self._not_found(name) from None
        except OSError as exc:
            raise self._error("read", name, exc) from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise self._not_found(name)
        return fd

    def get(self, name: str) -> bytes:
        fd = self._open_read(name)
        try:
            with open(fd, "rb", closefd=False) as f:
                return f.read()
        except OSError as exc:
            raise self._error("read", name, exc) from exc
        finally:
            os.close(fd)

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError(f"offset and length must be >= 0, got {offset}, {length}")
        fd = self._open_read(name)
        try:
            parts = []
            while length > 0:
                chunk = os.pread(fd, min(length, 1 << 30), offset)
                if not chunk:
                    break
                parts.append(chunk)
                offset += len(chunk)
                length -= len(chunk)
            return b"".join(parts)
        except OSError as exc:
            raise self._error("read", name, exc) from exc
        finally:
            os.close(fd)

    def iter_chunks(self, name: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be > 0")
        # A file object now, not a bare fd: if the iterator is dropped unstarted, the file
        # object's finalizer still closes the descriptor.
        f = open(self._open_read(name), "rb", closefd=True)  # noqa: SIM115 - closed by _chunks
        return self._chunks(f, name, chunk_size)

    def _chunks(self, f: BinaryIO, name: str, chunk_size: int) -> Iterator[bytes]:
        try:
            with f:
                while chunk := f.read(chunk_size):
                    yield chunk
        except OSError as exc:
            raise self._error("read", name, exc) from exc

    def exists(self, name: str) -> bool:
        try:
            return stat.S_ISREG(os.stat(self._path(name), follow_symlinks=False).st_mode)
        except _NOT_FOUND:
            return False
        except OSError as exc:
            raise self._error("look up", name, exc) from exc

    def size(self, name: str) -> int:
        try:
            st = os.stat(self._path(name), follow_symlinks=False)
        except _NOT_FOUND:
            raise self._not_found(name) from None
        except OSError as exc:
            raise self._error("look up", name, exc) from exc
        if not stat.S_ISREG(st.st_mode):
            raise self._not_found(name)
        return st.st_size

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Walk only the directory the prefix points into; sort each directory so that the
        whole listing comes out in name order without holding it all in memory."""
        validate_prefix(prefix)
        dir_part, _, first = prefix.rpartition("/")
        start = self._root_s + "/" + dir_part if dir_part else self._root_s
        rel = dir_part + "/" if dir_part else ""
        return self._walk(start, rel, first)

    def _walk(self, dir_s: str, rel: str, first: str) -> Iterator[ObjectInfo]:
        try:
            with os.scandir(dir_s) as it:
                entries = [
                    e for e in it if e.name.startswith(first) and not e.name.startswith(TEMP_PREFIX)
                ]
        except _NOT_FOUND:
            return
        except OSError as exc:
            raise self._error("list", rel or None, exc) from exc
        if dir_s == self._root_s:
            entries = [e for e in entries if e.name != LOCKS_DIR]
        keyed = []
        for e in entries:
            try:
                is_dir = e.is_dir(follow_symlinks=False)
            except OSError:
                continue
            # A directory's children are "<name>/...", so it sorts as "<name>/".
            keyed.append((e.name + "/" if is_dir else e.name, is_dir, e))
        keyed.sort(key=lambda t: t[0])
        for _key, is_dir, e in keyed:
            if is_dir:
                yield from self._walk(e.path, rel + e.name + "/", "")
                continue
            try:
                st = e.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted while we listed
            if stat.S_ISREG(st.st_mode):
                yield ObjectInfo(rel + e.name, st.st_size, st.st_mtime)

    # ---- about --------------------------------------------------------------------------
    def describe(self) -> str:
        return f"local directory {self._root_s}"

    def data_path(self) -> str:
        return self._root_s + "/"

    def __repr__(self) -> str:
        return f"LocalObjectStore({self._root_s!r})"


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _unlink_quietly_any(path: str) -> None:
    try:
        os.unlink(path)
    except _NOT_FOUND:
        pass


def _fsync_path(path: str, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | os.O_CLOEXEC | (os.O_DIRECTORY if directory else 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return  # deleted since: nothing left to make durable
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_many(paths: list[str], *, directory: bool) -> None:
    if len(paths) < _PARALLEL_FSYNC_MIN:
        for p in paths:
            _fsync_path(p, directory=directory)
        return
    with ThreadPoolExecutor(max_workers=_FSYNC_THREADS) as pool:
        # list() re-raises the first error after all have run
        list(pool.map(lambda p: _fsync_path(p, directory=directory), paths))
