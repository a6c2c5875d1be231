"""The object store interface: one flat namespace of immutable-ish blobs, local or S3.

Everything mailark keeps outside its databases lives here (message objects, packs, journal
drops, exports, the catalogue's Parquet files), so the interface is deliberately small and the
same on both backends: names are "/"-separated strings, writes are atomic (a reader sees the old
object, the new one or none, never a partial one), and ``put_if_absent`` is the primitive that
makes ingest batches idempotent.

Backends: :class:`storage.local.LocalObjectStore` (a directory) and
:class:`storage.s3.S3ObjectStore` (MinIO or any S3, through the ``minio`` SDK).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # storage imports none of the other packages at run time
    from mailark.config.settings import Settings

__all__ = [
    "TEMP_PREFIX",
    "ObjectInfo",
    "ObjectLocked",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreError",
    "open_store",
    "validate_name",
    "validate_prefix",
]

#: Local backends write to ``<dir>/.tmp-*`` first; such names are never objects.
TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int
    # seconds since the epoch, when the backend says; not part of what an object is (name and size)
    modified: float | None = field(default=None, compare=False)


class ObjectStoreError(RuntimeError):
    """The store could not do what was asked; the message says what happened and what to do."""


class ObjectNotFound(ObjectStoreError, KeyError):
    """No object of that name. A ``KeyError`` too, so mapping-style callers can catch that."""

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name

    def __str__(self) -> str:
        # KeyError.__str__ would print the message as a quoted repr.
        return str(self.args[0]) if self.args else ""


class ObjectLocked(ObjectStoreError):
    """The object is locked (WORM) until ``until``: the store refuses to delete or replace it."""

    def __init__(self, message: str, name: str, until: datetime) -> None:
        super().__init__(message)
        self.name = name
        self.until = until


def locked_message(where: str, name: str, until: datetime) -> str:
    """What a refused delete says: the object, its lock date, and what to do."""
    return (
        f"{where}: object {name!r} is locked (immutable storage) until "
        f"{until.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC and cannot be deleted or replaced before then; "
        "a later retention run removes it once the lock has passed"
    )


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid object name, else raise ``ValueError``.

    Names are "/"-separated segments. The rules keep one name meaning one thing on every
    backend: no leading "/", no empty, "." or ".." segment (a path would collapse or escape the
    root), no NUL or backslash, and no segment starting with ``.tmp-`` (the local backend's
    temporary files, which ``list()`` hides and ``cleanup_temp()`` removes).
    """
    if not isinstance(name, str):
        raise ValueError(f"object name must be a str, not {type(name).__name__}")
    if not name:
        raise ValueError("object name is empty")
    if "\x00" in name or "\\" in name:
        raise ValueError(f"object name {name!r} contains NUL or a backslash")
    if name.startswith("/"):
        raise ValueError(f"object name {name!r} starts with '/'; names are relative to the store")
    for segment in name.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(f"object name {name!r} has an empty, '.' or '..' segment")
        if segment.startswith(TEMP_PREFIX):
            raise ValueError(f"object name {name!r} has a segment starting with {TEMP_PREFIX!r}")
    return name


def validate_prefix(prefix: str) -> str:
    """A list() prefix is any string prefix of a valid name ("" and "a/" included)."""
    if prefix:
        validate_name(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


class ObjectStore(ABC):
    """What every backend offers; see the module docstring for the guarantees.

    Immutable storage (WORM): when ``worm`` is "governance" or "compliance", objects written
    with a ``retain_until`` are locked until then: the store refuses to delete or replace them
    (``ObjectLocked``), and a lock is only ever lengthened. Only S3 object lock is real WORM;
    the local store enforces it in code (docs/retention.md).
    """

    #: "governance" or "compliance" when objects may be locked, None when locking is off.
    worm: str | None = None

    @abstractmethod
    def put_if_absent(self, name: str, data: bytes, *, durable: bool = False,
                      retain_until: datetime | None = None) -> bool:
        """Store ``data`` under ``name`` unless an object of that name exists.

        Returns True if this call created the object, False if one already existed (its
        content is left untouched). Never leaves a partial object under ``name``.
        ``durable=True``: on stable storage when this returns; otherwise at the next flush().
        ``retain_until`` (WORM on, date in the future): lock the object until then; an existing
        object's lock is lengthened to it if shorter.
        """

    def retain_until(self, name: str) -> datetime | None:
        """The object's lock date (UTC), or None when it has none (or locking is off)."""
        return None

    def extend_retention(self, name: str, until: datetime) -> bool:
        """Lengthen the object's lock to ``until`` (never shortens); True if it changed."""
        return False

    def locked(self, name: str, now: datetime | None = None) -> datetime | None:
        """The lock date if the object is locked at ``now`` (default: the current time), else None."""
        if self.worm is None:
            return None
        until = self.retain_until(name)
        if until is not None and until > (now or datetime.now(UTC)):
            return until
        return None

    @abstractmethod
    def put(self, name: str, data: bytes, *, durable: bool = False) -> None:
        """Store ``data`` under ``name``, replacing any object of that name, atomically."""

    @abstractmethod
    def put_file(self, name: str, path: Path, *, durable: bool = False) -> None:
        """Store the file at ``path`` under ``name`` (streamed, atomic, replaces)."""

    @abstractmethod
    def get(self, name: str) -> bytes:
        """The whole object; ObjectNotFound if missing."""

    @abstractmethod
    def get_range(self, name: str, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset``: short at the end, b"" past it."""

    @abstractmethod
    def iter_chunks(self, name: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream the object in chunks of at most ``chunk_size`` bytes.

        Raises ObjectNotFound when called (not at the first ``next``), so a web handler can
        answer 404 before it starts a streaming response.
        """

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def size(self, name: str) -> int:
        """Size in bytes; ObjectNotFound if missing."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose name starts with ``prefix`` (a string prefix, as in S3),
        recursively, sorted by name, names relative to the store root."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove the object; a missing one is fine."""

    @abstractmethod
    def flush(self) -> None:
        """Make every write since the last flush durable: once per batch, not per object."""

    @abstractmethod
    def describe(self) -> str:
        """Where the objects are, for messages and logs (never secrets)."""

    @abstractmethod
    def data_path(self) -> str:
        """Prefix DuckDB can read and write files under: an absolute directory ending in "/",
        or ``s3://bucket/``. The catalogue puts its Parquet files under ``lake/`` below it."""


def open_store(settings: Settings) -> ObjectStore:
    """The object store the settings name: a local directory or an S3 bucket."""
    if settings.object_store == "s3":
        from mailark.storage.s3 import S3ObjectStore

        s3 = settings.s3
        return S3ObjectStore(
            s3.endpoint,
            s3.access_key,
            s3.secret_key.get_secret_value(),
            s3.bucket,
            secure=s3.secure,
            region=s3.region,
            cert_check=s3.cert_check,
            worm=_worm(settings),
        )
    if settings.object_store == "local":
        from mailark.storage.local import LocalObjectStore

        return LocalObjectStore(settings.objects_dir, worm=_worm(settings))
    raise ObjectStoreError(
        f"unknown object store {settings.object_store!r}; set MAILARK_OBJECT_STORE to 'local' or 's3'"
    )


def _worm(settings: Settings) -> str | None:
    mode = getattr(settings, "worm", "off")
    return None if mode == "off" else mode
