"""Object store in an S3 bucket (MinIO or any S3) through the ``minio`` SDK.

put_if_absent
    A conditional write: ``PUT`` with ``If-None-Match: *``, which AWS S3 (since 2024), recent
    MinIO and moto answer with 412 Precondition Failed when the object exists (verified against
    moto 5.2.5 in tests/storage). minio-py's public ``put_object`` turns extra headers into
    ``x-amz-meta-*`` metadata, so the single PUT goes through the SDK's internal
    ``Minio._put_object(bucket, name, data, headers)``, which sends headers as given (so in
    minio 7.2.x; if it disappears we fall back to the checked write instead of failing).
    Payloads above 1 MiB are preceded by a HEAD, which saves uploading a big attachment that is
    already stored.

    The checked write (stat, then put if missing) is used when ``conditional_writes=False``
    (or the server answers NotImplemented) and for payloads above 64 MiB, which go multipart,
    where minio-py has no way to send the condition. Two processes can both see "missing" and
    both put; that is safe for our use because object names are content-addressed (HMAC of the
    plaintext under the organization's naming key): a racing writer writes the same plaintext,
    and either encryption of it is a valid object. What is lost is only the exactness of the
    True/False answer across processes; within one process a lock per name keeps it exact. A
    server that silently ignores ``If-None-Match`` (old MinIO) gives the same weaker guarantee,
    for the same reason. (So does a PUT retried after a lost response: it may answer False
    for an object this call did create.)

Durability: a successful PUT is durable on S3, so ``durable`` is accepted and ignored and
``flush()`` does nothing. Atomicity: S3 shows an object only once its PUT (or multipart
completion) has succeeded; failed multipart uploads are aborted by the SDK.

Object lock: a bucket with object lock and a default retention rejects a PUT without
``Content-MD5`` (or an ``x-amz-sdk-checksum-*`` header) -- moto checks this too
(``MissingUploadObjectWithObjectLockHeaders``). minio-py only sends Content-MD5 over HTTPS, so
our single PUTs always send it themselves; parts of multipart uploads need none, and put_file
sends a file that fits in one part as such a PUT. Buckets we create have no object lock unless
``worm`` is set; compliance retention is configured by the operator on the bucket.

WORM (``worm="governance"|"compliance"``): the bucket is created with object lock (which turns
on versioning); a ``put_if_absent`` with ``retain_until`` sends ``x-amz-object-lock-mode`` and
``x-amz-object-lock-retain-until-date`` with an ``x-amz-checksum-sha256``; an existing object's
lock is lengthened with PutObjectRetention. ``delete`` removes every version of the key (a plain
DELETE on a versioned bucket only adds a delete marker and frees nothing); the server refuses a
locked version, which we report as ObjectLocked.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, GOVERNANCE
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.retention import Retention
from urllib3.exceptions import HTTPError as Urllib3Error

from mailark.storage.objects import (
    ObjectInfo,
    ObjectLocked,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    locked_message,
    validate_name,
    validate_prefix,
)

_CONTENT_TYPE = "application/octet-stream"
# Above this size put_if_absent asks (HEAD) before it uploads.
_HEAD_FIRST_BYTES = 1 << 20
# Above this size a put goes multipart (one PUT may carry 5 GiB, but a retry resends it all).
_SINGLE_PUT_MAX = 64 << 20
_PART_SIZE = 16 << 20
_NAME_LOCKS = 64
_NOT_FOUND_CODES = {"NoSuchKey", "NoSuchObject", "NotFound"}
_CREDENTIAL_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
}


class S3ObjectStore(ObjectStore):
    """Objects in one bucket; names are object keys."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = True,
        region: str | None = None,
        cert_check: bool = True,
        create_bucket: bool = True,
        conditional_writes: bool = True,
        worm: str | None = None,
    ) -> None:
        """``endpoint`` is host:port; an ``http://`` or ``https://`` in front is accepted and
        decides ``secure``. The bucket is checked (and created if ``create_bucket``) on the
        first operation, not here, so building a store never blocks on the network."""
        for scheme, is_secure in (("https://", True), ("http://", False)):
            if endpoint.startswith(scheme):
                endpoint, secure = endpoint[len(scheme) :], is_secure
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.secure = secure
        self.region = region
        if worm not in (None, "governance", "compliance"):
            raise ObjectStoreError(f"unknown WORM mode {worm!r}; set MAILARK_WORM to off, governance or compliance")
        self.worm = worm
        self._secret = secret_key  # only to scrub it from error messages
        self._create_bucket = create_bucket
        self._conditional = conditional_writes
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()
        self._name_locks = [threading.Lock() for _ in range(_NAME_LOCKS)]
        # Our own pool: minio's default waits 5 minutes to connect and retries 5 times, which
        # turns a wrong endpoint into a long hang; we fail within seconds and say why.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=10, read=300),
            maxsize=32,
            cert_reqs="CERT_REQUIRED" if cert_check else "CERT_NONE",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=urllib3.Retry(
                total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
        )
        try:
            self._client = Minio(
                self.endpoint,
                access_key=access_key or None,
                secret_key=secret_key or None,
                secure=secure,
                region=region,
                http_client=http,
                cert_check=cert_check,
            )
        except ValueError as exc:
            raise ObjectStoreError(
                f"invalid S3 endpoint {self.endpoint!r} ({exc}); set MAILARK_S3__ENDPOINT "
                "to host:port, e.g. 127.0.0.1:9000"
            ) from exc

    # ---- errors -------------------------------------------------------------------------
    def _fail(self, exc: BaseException, what: str, name: str | None = None) -> NoReturn:
        """Turn an SDK or connection error into an ObjectStoreError that says what to do."""
        target = f" {name!r}" if name else ""
        where = self.describe()
        if isinstance(exc, S3Error):
            code = exc.code or ""
            if name is not None and code in _NOT_FOUND_CODES:
                raise ObjectNotFound(f"object {name!r} not found in {where}", name) from exc
            if code == "NoSuchBucket":
                msg = (
                    f"{where}: the bucket does not exist; create it, or check "
                    "MAILARK_S3__BUCKET and MAILARK_S3__ENDPOINT"
                )
            elif code in _CREDENTIAL_CODES:
                msg = (
                    f"{where}: {what}{target} was refused ({code}); check "
                    "MAILARK_S3__ACCESS_KEY and MAILARK_S3__SECRET_KEY and the key's policy"
                )
            else:
                msg = f"{where}: {what}{target} failed: {code}: {exc.message}"
        elif isinstance(exc, (ServerError, InvalidResponseError)):
            msg = (
                f"{where}: {what}{target} failed with an unexpected answer ({exc}); is "
                "MAILARK_S3__ENDPOINT an S3 server, and MAILARK_S3__SECURE right for it?"
            )
        else:
            reason = getattr(exc, "reason", None) or exc
            msg = (
                f"{where}: could not {what}{target}: cannot reach the server ({reason}). Is "
                "the server running? Check MAILARK_S3__ENDPOINT and MAILARK_S3__SECURE."
            )
        if self._secret:
            msg = msg.replace(self._secret, "***")
        raise ObjectStoreError(msg) from exc

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._bucket_lock:
            if self._bucket_ready:
                return
            if self._create_bucket:
                try:
                    if not self._client.bucket_exists(self.bucket):
                        try:
                            self._client.make_bucket(self.bucket, location=self.region,
                                                     object_lock=self.worm is not None)
                        except S3Error as exc:  # another process made it meanwhile
                            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                                raise
                except _ERRORS as exc:
                    self._fail(exc, "check or create the bucket")
                except ValueError as exc:
                    raise ObjectStoreError(
                        f"invalid bucket name {self.bucket!r} ({exc}); set MAILARK_S3__BUCKET"
                    ) from exc
            self._bucket_ready = True

    # ---- writes -------------------------------------------------------------------------
    def _put_single(self, name: str, data: bytes, *, if_absent: bool, lock_until: datetime | None = None) -> bool:
        """One PUT with Content-MD5 (integrity, object lock) and optionally If-None-Match."""
        headers: dict[str, Any] = {
            "Content-Type": _CONTENT_TYPE,
            "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode(),
        }
        if lock_until is not None:
            headers.update(self._lock_headers(lock_until))
            headers["x-amz-checksum-sha256"] = base64.b64encode(hashlib.sha256(data).digest()).decode()
            headers["x-amz-sdk-checksum-algorithm"] = "SHA256"
        if if_absent:
            headers["If-None-Match"] = "*"
        try:
            self._client._put_object(self.bucket, name, data, headers)  # noqa: SLF001
        except S3Error as exc:
            if if_absent and exc.code == "PreconditionFailed":
                return False
            if if_absent and exc.code in ("NotImplemented", "NotImplementedError"):
                self._conditional = False  # the server cannot; use checked writes from now on
                return self._checked_put(name, data)
            if lock_until is not None and exc.code == "InvalidRequest":
                self._no_object_lock(exc)
            self._fail(exc, "write", name)
        except _ERRORS as exc:
            self._fail(exc, "write", name)
        return True

    def _put_any(self, name: str, data: bytes) -> None:
        if len(data) <= _SINGLE_PUT_MAX and hasattr(self._client, "_put_object"):
            self._put_single(name, data, if_absent=False)
            return
        try:
            self._client.put_object(
                self.bucket, name, io.BytesIO(data), len(data),
                content_type=_CONTENT_TYPE, part_size=_PART_SIZE,
            )
        except _ERRORS as exc:
            self._fail(exc, "write", name)

    def _checked_put(self, name: str, data: bytes) -> bool:
        with self._name_locks[hash(name) % _NAME_LOCKS]:
            if self.exists(name):
                return False
            self._put_any(name, data)
            return True

    def put_if_absent(self, name: str, data: bytes, *, durable: bool = False,
                      retain_until: datetime | None = None) -> bool:
        validate_name(name)
        self._ensure_bucket()
        lock = retain_until if self.worm is not None and retain_until is not None else None
        if lock is not None and lock <= datetime.now(UTC):
            lock = None  # S3 refuses a retain-until in the past; nothing left to protect
        if len(data) > _HEAD_FIRST_BYTES and self.exists(name):
            created = False
        elif (
            self._conditional
            and len(data) <= _SINGLE_PUT_MAX
            and hasattr(self._client, "_put_object")
        ):
            created = self._put_single(name, data, if_absent=True, lock_until=lock)
            if created and self._conditional:  # else it fell back to a checked put, without the headers
                return True
        else:
            created = self._checked_put(name, data)
        if lock is not None:  # an existing object, or one written without the headers
            self.extend_retention(name, lock)
        return created

    def put(self, name: str, data: bytes, *, durable: bool = False) -> None:
        validate_name(name)
        self._ensure_bucket()
        self._put_any(name, data)

    def put_file(self, name: str, path: Path, *, durable: bool = False) -> None:
        """Multipart upload from the file (parts of 16 MiB, three in flight); a file that fits
        in one part goes as one PUT with Content-MD5, as object-lock buckets require."""
        validate_name(name)
        self._ensure_bucket()
        try:
            if os.stat(path).st_size <= _PART_SIZE and hasattr(self._client, "_put_object"):
                with open(path, "rb") as f:
                    data = f.read()
                self._put_single(name, data, if_absent=False)
                return
            self._client.fput_object(
                self.bucket, name, str(path), content_type=_CONTENT_TYPE, part_size=_PART_SIZE
            )
        except OSError as exc:
            if isinstance(exc, Urllib3Error) or not getattr(exc, "filename", None):
                self._fail(exc, "write", name)
            raise ObjectStoreError(
                f"cannot read {path} to store it as {name!r}: {exc.strerror or exc}"
            ) from exc
        except _ERRORS as exc:
            self._fail(exc, "write", name)

    # ---- locks --------------------------------------------------------------------------
    def _mode(self) -> str:
        return COMPLIANCE if self.worm == "compliance" else GOVERNANCE

    def _lock_headers(self, until: datetime) -> dict[str, str]:
        return {
            "x-amz-object-lock-mode": self._mode(),
            "x-amz-object-lock-retain-until-date": _s3_date(until),
        }

    def _no_object_lock(self, exc: S3Error) -> NoReturn:
        raise ObjectStoreError(
            f"{self.describe()}: the bucket has no object lock, so MAILARK_WORM={self.worm} cannot be "
            "honoured (object lock can only be chosen when a bucket is created); point MAILARK_S3__BUCKET "
            "at a new bucket (mailark creates it with object lock) or set MAILARK_WORM=off"
        ) from exc

    def retain_until(self, name: str) -> datetime | None:
        """From the object's HEAD (GetObjectRetention answers are not parsed by every server)."""
        if self.worm is None:
            return None
        value = (self._stat(name).metadata or {}).get("x-amz-object-lock-retain-until-date")
        return _parse_s3_date(value) if value else None

    def extend_retention(self, name: str, until: datetime) -> bool:
        """PutObjectRetention on the current version, only when it lengthens the lock."""
        if self.worm is None or until <= datetime.now(UTC):
            return False
        st = self._stat(name)
        value = (st.metadata or {}).get("x-amz-object-lock-retain-until-date")
        current = _parse_s3_date(value) if value else None
        if current is not None and current >= until:
            return False
        try:
            self._client.set_object_retention(self.bucket, name, Retention(self._mode(), until.astimezone(UTC)),
                                              version_id=st.version_id)
        except S3Error as exc:
            if exc.code == "InvalidRequest":
                self._no_object_lock(exc)
            self._fail(exc, "lock", name)
        except _ERRORS as exc:
            self._fail(exc, "lock", name)
        return True

    def _delete_versions(self, name: str) -> None:
        """Remove every version of ``name``; a locked one is refused by the server itself."""
        try:
            versions = [o.version_id for o in self._client.list_objects(
                self.bucket, prefix=name, include_version=True) if o.object_name == name]
        except _ERRORS as exc:
            self._fail(exc, "list the versions of", name)
        for version in versions:
            try:
                self._client.remove_object(self.bucket, name, version_id=version)
            except S3Error as exc:
                if exc.code in _NOT_FOUND_CODES:
                    continue
                if exc.code == "AccessDenied":
                    until = self._version_lock(name, version)
                    if until is not None and until > datetime.now(UTC):
                        raise ObjectLocked(locked_message(self.describe(), name, until), name, until) from exc
                self._fail(exc, "delete", name)
            except _ERRORS as exc:
                self._fail(exc, "delete", name)

    def _version_lock(self, name: str, version: str | None) -> datetime | None:
        try:
            st = self._client.stat_object(self.bucket, name, version_id=version)
        except _ERRORS:
            return None
        value = (st.metadata or {}).get("x-amz-object-lock-retain-until-date")
        return _parse_s3_date(value) if value else None

    def delete(self, name: str) -> None:
        validate_name(name)
        self._ensure_bucket()
        if self.worm is not None:
            self._delete_versions(name)
            return
        try:
            self._client.remove_object(self.bucket, name)
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                return
            self._fail(exc, "delete", name)
        except _ERRORS as exc:
            self._fail(exc, "delete", name)

    def flush(self) -> None:
        """Nothing to do: S3 acknowledges a PUT only once it is durable."""

    # ---- reads --------------------------------------------------------------------------
    def _get(self, name: str, offset: int = 0, length: int = 0) -> Any:
        validate_name(name)
        self._ensure_bucket()
        try:
            return self._client.get_object(self.bucket, name, offset=offset, length=length)
        except _ERRORS as exc:
            self._fail(exc, "read", name)

    def _read_all(self, response: Any, name: str) -> bytes:
        try:
            return response.read()
        except _ERRORS as exc:
            self._fail(exc, "read", name)
        finally:
            response.close()
            response.release_conn()

    def get(self, name: str) -> bytes:
        return self._read_all(self._get(name), name)

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        """A ranged GET. S3 answers 416 for a range starting at or past the end: that is b""."""
        if offset < 0 or length < 0:
            raise ValueError(f"offset and length must be >= 0, got {offset}, {length}")
        if length == 0:  # minio reads length=0 as "to the end"
            self.size(name)  # still ObjectNotFound if missing
            return b""
        try:
            response = self._get(name, offset, length)
        except ObjectStoreError as exc:
            cause = exc.__cause__
            if isinstance(cause, S3Error) and cause.code == "InvalidRange":
                return b""
            raise
        return self._read_all(response, name)

    def iter_chunks(self, name: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be > 0")
        return self._chunks(self._get(name), name, chunk_size)

    def _chunks(self, response: Any, name: str, chunk_size: int) -> Iterator[bytes]:
        try:
            yield from response.stream(chunk_size)
        except _ERRORS as exc:
            self._fail(exc, "read", name)
        finally:
            response.close()
            response.release_conn()

    def _stat(self, name: str) -> Any:
        validate_name(name)
        self._ensure_bucket()
        try:
            return self._client.stat_object(self.bucket, name)
        except _ERRORS as exc:
            self._fail(exc, "look up", name)

    def exists(self, name: str) -> bool:
        try:
            self._stat(name)
        except ObjectNotFound:
            return False
        return True

    def size(self, name: str) -> int:
        return int(self._stat(name).size)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """S3 lists keys in UTF-8 byte order, which is Python's str order: no sorting here."""
        validate_prefix(prefix)
        self._ensure_bucket()
        return self._list(prefix)

    def _list(self, prefix: str) -> Iterator[ObjectInfo]:
        try:
            for obj in self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True):
                if obj.object_name is not None and not obj.is_dir:
                    yield ObjectInfo(obj.object_name, int(obj.size or 0),
                                     obj.last_modified.timestamp() if obj.last_modified else None)
        except _ERRORS as exc:
            self._fail(exc, "list", prefix or None)

    # ---- about --------------------------------------------------------------------------
    def describe(self) -> str:
        return f"S3 bucket {self.bucket} at {self.endpoint} ({'https' if self.secure else 'http'})"

    def data_path(self) -> str:
        """Also makes sure the bucket exists: DuckDB may write there before we ever do."""
        self._ensure_bucket()
        return f"s3://{self.bucket}/"

    def __repr__(self) -> str:
        return f"S3ObjectStore({self.endpoint!r}, bucket={self.bucket!r})"


_ERRORS = (MinioException, Urllib3Error, OSError)


def _s3_date(d: datetime) -> str:
    """Whole seconds, rounded up: a lock never ends before the date asked for."""
    d = d.astimezone(UTC)
    if d.microsecond:
        d = d.replace(microsecond=0) + timedelta(seconds=1)
    return d.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _parse_s3_date(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)
