"""Immutable storage (WORM) in the object stores: locks set at write, lengthened only, deletes refused.

S3 runs on the moto server (a real S3 protocol server): the refusal of an early delete is the
server's own. The local store keeps the same promise in code (read-only files, refused deletes).
"""

from __future__ import annotations

import os
import stat
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from minio.error import S3Error

from mailark.storage.local import LOCKS_DIR, LocalObjectStore
from mailark.storage.objects import ObjectLocked, ObjectStore, ObjectStoreError
from mailark.storage.s3 import S3ObjectStore


def _s3(endpoint: str, worm: str | None = "compliance") -> S3ObjectStore:
    return S3ObjectStore(endpoint, "testing", "testing-secret", f"worm-{uuid.uuid4().hex[:12]}",
                         secure=False, worm=worm)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "objects", worm="compliance")
    else:
        yield _s3(request.getfixturevalue("moto_endpoint"))


def _wait_until(t: datetime) -> None:
    time.sleep(max(0.0, (t - datetime.now(UTC)).total_seconds()) + 0.3)


def test_a_locked_object_refuses_delete_and_replace_until_its_date_then_goes(store: ObjectStore) -> None:
    until = datetime.now(UTC) + timedelta(seconds=4)
    assert store.put_if_absent("orgs/o/objects/aa/x", b"mail", retain_until=until) is True
    got = store.retain_until("orgs/o/objects/aa/x")
    assert got is not None and until <= got < until + timedelta(seconds=1)
    with pytest.raises(ObjectLocked) as e:
        store.delete("orgs/o/objects/aa/x")
    assert "locked" in str(e.value) and "until" in str(e.value)
    assert store.get("orgs/o/objects/aa/x") == b"mail"
    # a second writer of the same content (single instance) never shortens the lock
    assert store.put_if_absent("orgs/o/objects/aa/x", b"mail", retain_until=until - timedelta(seconds=3)) is False
    assert store.extend_retention("orgs/o/objects/aa/x", until - timedelta(seconds=2)) is False
    assert store.retain_until("orgs/o/objects/aa/x") == got
    _wait_until(got)
    store.delete("orgs/o/objects/aa/x")
    assert not store.exists("orgs/o/objects/aa/x")


def test_a_lock_is_lengthened_and_the_longer_date_holds(store: ObjectStore) -> None:
    first = datetime.now(UTC) + timedelta(seconds=2)
    store.put_if_absent("a/b", b"x", retain_until=first)
    assert store.extend_retention("a/b", first + timedelta(seconds=3)) is True
    _wait_until(first)
    with pytest.raises(ObjectLocked):
        store.delete("a/b")  # the first date has passed, the extended one has not
    assert store.exists("a/b")


def test_an_unlocked_object_and_a_past_date_delete_as_before(store: ObjectStore) -> None:
    store.put_if_absent("a/plain", b"x")
    store.put_if_absent("a/past", b"y", retain_until=datetime.now(UTC) - timedelta(days=1))
    assert store.retain_until("a/plain") is None and store.locked("a/past") is None
    store.delete("a/plain")
    store.delete("a/past")
    assert [i.name for i in store.list("a/")] == []


def test_s3_the_server_itself_refuses_to_delete_a_locked_version(moto_endpoint: str) -> None:
    """Even a client with the bucket keys (not our code) cannot remove the locked version."""
    s = _s3(moto_endpoint, "governance")
    until = datetime.now(UTC) + timedelta(minutes=5)
    s.put_if_absent("orgs/o/objects/bb/y", b"mail", retain_until=until)
    raw = s._client  # the bare SDK, as an operator with the keys would use it
    st = raw.stat_object(s.bucket, "orgs/o/objects/bb/y")
    assert st.metadata.get("x-amz-object-lock-mode") == "GOVERNANCE"
    with pytest.raises(S3Error) as e:
        raw.remove_object(s.bucket, "orgs/o/objects/bb/y", version_id=st.version_id)
    assert e.value.code == "AccessDenied"
    with pytest.raises(ObjectLocked):
        s.delete("orgs/o/objects/bb/y")
    assert s.get("orgs/o/objects/bb/y") == b"mail"


def test_s3_with_worm_off_writes_no_lock(moto_endpoint: str) -> None:
    s = _s3(moto_endpoint, None)
    s.put_if_absent("k", b"x", retain_until=datetime.now(UTC) + timedelta(days=1))
    assert s.retain_until("k") is None
    s.delete("k")
    assert not s.exists("k")


def test_local_locked_files_are_read_only_and_the_lock_record_is_hidden(tmp_path: Path) -> None:
    s = LocalObjectStore(tmp_path / "objects", worm="compliance")
    s.put_if_absent("orgs/o/objects/cc/z", b"mail", retain_until=datetime.now(UTC) + timedelta(days=1))
    mode = stat.S_IMODE(os.stat(tmp_path / "objects/orgs/o/objects/cc/z").st_mode)
    assert mode & 0o222 == 0, oct(mode)
    assert (tmp_path / "objects" / LOCKS_DIR / "orgs/o/objects/cc/z").is_file()
    assert [i.name for i in s.list()] == ["orgs/o/objects/cc/z"]
    with pytest.raises(ObjectLocked):
        s.put("orgs/o/objects/cc/z", b"other")
    assert s.get("orgs/o/objects/cc/z") == b"mail"
    # the same directory opened with WORM off still shows the lock (it is kept beside the object)
    assert LocalObjectStore(tmp_path / "objects").retain_until("orgs/o/objects/cc/z") is not None


def test_s3_worm_on_a_bucket_without_object_lock_says_what_to_do(moto_endpoint: str) -> None:
    plain = _s3(moto_endpoint, None)
    plain.put("x", b"1")  # the bucket exists, made without object lock
    worm = S3ObjectStore(moto_endpoint, "testing", "testing-secret", plain.bucket, secure=False, worm="compliance")
    with pytest.raises(ObjectStoreError) as e:
        worm.put_if_absent("y", b"2", retain_until=datetime.now(UTC) + timedelta(days=1))
    assert "no object lock" in str(e.value) and "MAILARK_WORM=off" in str(e.value)
