"""Object store behaviour, the same tests against a local directory and a real S3 server (moto
over HTTP through the minio SDK)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mailark.storage.local import LocalObjectStore
from mailark.storage.objects import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    open_store,
    validate_name,
)
from mailark.storage.s3 import S3ObjectStore
from tests.peers.moto_server import free_port

REPO = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-Key-that-must-not-leak"
MB = 1 << 20


def _bucket() -> str:
    return "t-" + uuid.uuid4().hex[:20]


def _s3(endpoint: str, **kw: object) -> S3ObjectStore:
    return S3ObjectStore(
        endpoint, "testing", SECRET, _bucket(), secure=False, region="us-east-1", **kw
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "objects")
    else:
        yield _s3(request.getfixturevalue("moto_endpoint"))


# ---- put / get ------------------------------------------------------------------------------
def test_put_if_absent_creates_once_and_keeps_content(store: ObjectStore) -> None:
    name = "orgs/1/objects/ab/abcdef"
    assert store.put_if_absent(name, b"first") is True
    assert store.put_if_absent(name, b"second, longer") is False
    assert store.get(name) == b"first"
    assert store.size(name) == 5
    assert store.exists(name)
    assert store.put_if_absent(name, b"third", durable=True) is False
    assert store.get(name) == b"first"
    store.flush()


def test_put_overwrites_atomically(store: ObjectStore) -> None:
    store.put("orgs/1/packs/b1", b"old content", durable=True)
    store.put("orgs/1/packs/b1", b"new")
    assert store.get("orgs/1/packs/b1") == b"new"
    assert store.put_if_absent("empty", b"") is True
    assert store.get("empty") == b"" and store.size("empty") == 0
    store.flush()


def test_ranges_and_chunks(store: ObjectStore) -> None:
    data = bytes(range(256)) * 4
    store.put("r/obj", data)
    assert store.get_range("r/obj", 0, 10) == data[:10]
    assert store.get_range("r/obj", 1000, 100) == data[1000:]  # short at the end
    assert store.get_range("r/obj", len(data), 5) == b""  # past the end
    assert store.get_range("r/obj", 5, 0) == b""
    chunks = list(store.iter_chunks("r/obj", chunk_size=100))
    assert b"".join(chunks) == data
    assert all(len(c) <= 100 for c in chunks) and len(chunks) >= 11
    with pytest.raises(ValueError):
        store.get_range("r/obj", -1, 5)


def test_20mb_object_streamed(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(20 * MB)
    src = tmp_path / "export.zip"
    src.write_bytes(data)
    store.put_file("orgs/1/exports/e1.zip", src)  # multipart on S3 (16 MiB parts)
    assert store.size("orgs/1/exports/e1.zip") == len(data)
    received = bytearray()
    count = 0
    for chunk in store.iter_chunks("orgs/1/exports/e1.zip", chunk_size=MB):
        assert len(chunk) <= MB
        received += chunk
        count += 1
    assert received == data and count >= 20
    assert store.get_range("orgs/1/exports/e1.zip", 7 * MB + 3, 1000) == data[7 * MB + 3 :][:1000]
    # A big put_if_absent asks before it uploads on S3; same answer everywhere.
    assert store.put_if_absent("big", data[: 3 * MB]) is True
    assert store.put_if_absent("big", data[: 2 * MB]) is False
    assert store.get("big") == data[: 3 * MB]
    with pytest.raises(ObjectStoreError):
        store.put_file("x/from-missing-file", tmp_path / "no-such-file")
    assert not store.exists("x/from-missing-file")


def test_list_prefix_sorted(store: ObjectStore) -> None:
    names = ["b", "a/c/d", "a.b", "ab", "a/b", "orgs/10/x", "orgs/1/objects/ff/1", "orgs/1/z"]
    for i, n in enumerate(names):
        store.put_if_absent(n, b"x" * i)
    everything = list(store.list())
    assert [o.name for o in everything] == sorted(names)
    assert ObjectInfo("a/c/d", 1) in everything
    assert [o.name for o in store.list("a/")] == ["a/b", "a/c/d"]
    assert [o.name for o in store.list("a")] == ["a.b", "a/b", "a/c/d", "ab"]  # string prefix
    assert [o.name for o in store.list("orgs/1/")] == ["orgs/1/objects/ff/1", "orgs/1/z"]
    assert [o.name for o in store.list("orgs/1")] == ["orgs/1/objects/ff/1", "orgs/1/z", "orgs/10/x"]
    assert list(store.list("nothing/here/")) == []


def test_delete(store: ObjectStore) -> None:
    store.put_if_absent("d/1", b"one")
    store.put_if_absent("d/2", b"two")
    store.delete("d/1")
    store.delete("d/1")  # missing is fine
    store.delete("never/was")
    assert not store.exists("d/1")
    assert [o.name for o in store.list("d/")] == ["d/2"]
    assert store.put_if_absent("d/1", b"again") is True
    store.flush()


def test_missing_object(store: ObjectStore) -> None:
    for call in (
        lambda: store.get("no/such"),
        lambda: store.get_range("no/such", 0, 10),
        lambda: store.get_range("no/such", 0, 0),
        lambda: store.iter_chunks("no/such"),  # raises when called, before iteration
        lambda: store.size("no/such"),
    ):
        with pytest.raises(ObjectNotFound) as info:
            call()
        assert isinstance(info.value, KeyError)
        assert "no/such" in str(info.value) and not str(info.value).startswith("'")
    assert store.exists("no/such") is False
    store.put("dir/obj", b"x")
    with pytest.raises(ObjectNotFound):
        store.get("dir")  # a "directory" is no object


BAD_NAMES = ["", "/a", "a//b", "a/", "a/../b", "..", "a/./b", "a\\b", "a\x00b", ".tmp-1", "a/.tmp-x"]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_invalid_names_rejected(store: ObjectStore, bad: str) -> None:
    with pytest.raises(ValueError):
        validate_name(bad)
    with pytest.raises(ValueError):
        store.put_if_absent(bad, b"x")
    with pytest.raises(ValueError):
        store.get(bad)
    assert validate_name("orgs/1/objects/ab/cd") == "orgs/1/objects/ab/cd"


def _race(store: ObjectStore, name: str, threads: int = 8) -> None:
    barrier = threading.Barrier(threads)
    results: dict[int, bool] = {}
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = store.put_if_absent(name, f"writer {i}".encode() * 1000)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    winners = [i for i, created in results.items() if created]
    assert len(winners) == 1, results
    assert store.get(name) == f"writer {winners[0]}".encode() * 1000


def test_concurrent_put_if_absent_one_winner(store: ObjectStore) -> None:
    for round_ in range(5):
        _race(store, f"orgs/1/objects/{round_:02x}/same")


def test_data_path_and_describe(store: ObjectStore) -> None:
    desc = store.describe()
    assert SECRET not in desc and SECRET not in repr(store)
    if isinstance(store, LocalObjectStore):
        assert desc == f"local directory {store.root}"
        assert store.data_path() == f"{store.root}/" and os.path.isabs(store.data_path())
    else:
        assert desc.startswith(f"S3 bucket {store.bucket} at 127.0.0.1:")
        assert store.data_path() == f"s3://{store.bucket}/"


# ---- local only -----------------------------------------------------------------------------
def test_local_killed_writer_leaves_no_object(tmp_path: Path) -> None:
    """A writer killed between writing its temporary file and linking it into place."""
    root = tmp_path / "objects"
    child = (
        "import os, sys\n"
        "import storage.local as local\n"
        "def die(*a, **k): os._exit(137)\n"
        "local.os.link = die\n"
        "s = local.LocalObjectStore(sys.argv[1])\n"
        "s.put_if_absent('orgs/1/objects/aa/victim', b'partial?' * 1000)\n"
        "os._exit(0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", child, str(root)], cwd=REPO, timeout=60)
    assert proc.returncode == 137
    temps = list((root / "orgs/1/objects/aa").glob(".tmp-*"))
    assert len(temps) == 1 and temps[0].stat().st_size == 8000
    store = LocalObjectStore(root)
    assert not store.exists("orgs/1/objects/aa/victim")
    assert list(store.list()) == []
    with pytest.raises(ObjectNotFound):
        store.get("orgs/1/objects/aa/victim")
    assert store.put_if_absent("orgs/1/objects/aa/victim", b"whole") is True
    assert [o.name for o in store.list()] == ["orgs/1/objects/aa/victim"]
    assert store.cleanup_temp() == 0  # young: a live writer might still link it
    assert store.cleanup_temp(max_age=0) == 1
    assert list((root / "orgs/1/objects/aa").glob(".tmp-*")) == []
    assert store.get("orgs/1/objects/aa/victim") == b"whole"


def test_local_modes_and_no_leftovers(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    store.put_if_absent("orgs/1/objects/ab/x", b"1")
    store.put_if_absent("orgs/1/objects/ab/x", b"2")
    store.put("orgs/1/packs/p", b"3")
    src = tmp_path / "src"
    src.write_bytes(b"4")
    store.put_file("orgs/1/exports/e.zip", src)
    for dirpath, dirnames, filenames in os.walk(store.root):
        assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o700 or dirpath == str(store.root)
        for fn in filenames:
            assert not fn.startswith(".tmp-")
            assert stat.S_IMODE(os.stat(os.path.join(dirpath, fn)).st_mode) == 0o600


def test_local_flush_syncs_exactly_what_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "objects"
    store = LocalObjectStore(root)
    store.put_if_absent("old/obj", b"already there")
    store.flush()

    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr("mailark.storage.local.os.fsync", spy)
    store.put_if_absent("orgs/1/objects/ab/one", b"1")
    store.put_if_absent("orgs/1/objects/ab/two", b"2")
    store.put("orgs/1/packs/p1", b"3")
    assert synced == []  # nothing per object
    store.flush()
    r = str(root)
    assert set(synced) == {
        f"{r}/orgs/1/objects/ab/one",
        f"{r}/orgs/1/objects/ab/two",
        f"{r}/orgs/1/packs/p1",
        f"{r}/orgs/1/objects/ab",
        f"{r}/orgs/1/objects",
        f"{r}/orgs/1/packs",
        f"{r}/orgs/1",
        f"{r}/orgs",
        r,
    }
    assert len(synced) == len(set(synced))
    synced.clear()
    store.flush()
    assert synced == []  # nothing new, nothing synced

    # durable=True: the file's data before the link, then the entries leading to it.
    store.put_if_absent("orgs/2/drops/journal/01J", b"mail", durable=True)
    assert synced[0].startswith(f"{r}/orgs/2/drops/journal/.tmp-")
    assert set(synced[1:]) == {
        f"{r}/orgs/2/drops/journal",
        f"{r}/orgs/2/drops",
        f"{r}/orgs/2",
        f"{r}/orgs",
    }
    synced.clear()
    store.flush()
    assert synced == []


def test_local_many_small_puts_are_fast(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    t0 = time.perf_counter()
    for i in range(2000):
        store.put_if_absent(f"orgs/1/objects/{i % 256:02x}/{i:08d}", b"x" * 300)
    elapsed = time.perf_counter() - t0
    store.flush()
    assert sum(1 for _ in store.list("orgs/1/objects/")) == 2000
    assert elapsed < 8.0, f"2000 small puts took {elapsed:.2f}s"


# ---- S3 only --------------------------------------------------------------------------------
def test_s3_checked_write_mode(moto_endpoint: str) -> None:
    """The fallback for servers without conditional writes: stat, then put."""
    store = _s3(moto_endpoint, conditional_writes=False)
    assert store.put_if_absent("c/1", b"first") is True
    assert store.put_if_absent("c/1", b"second") is False
    assert store.get("c/1") == b"first"
    _race(store, "c/race")


def test_s3_object_lock_bucket(moto_endpoint: str, tmp_path: Path) -> None:
    """Default retention makes S3 demand Content-MD5 on PUT; our single PUTs send it."""
    from minio.commonconfig import GOVERNANCE
    from minio.objectlockconfig import DAYS, ObjectLockConfig

    store = _s3(moto_endpoint, create_bucket=False)
    client = store._client
    client.make_bucket(store.bucket, object_lock=True)
    client.set_object_lock_config(store.bucket, ObjectLockConfig(GOVERNANCE, 1, DAYS))
    assert store.put_if_absent("locked/1", b"kept") is True
    assert store.put_if_absent("locked/1", b"other") is False
    assert store.get("locked/1") == b"kept"
    store.put("locked/2", b"replaced later")
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(b"s" * 1000)
    big.write_bytes(b"b" * (17 * MB))  # two parts
    store.put_file("locked/small", small)
    store.put_file("locked/big", big)
    assert store.size("locked/small") == 1000 and store.size("locked/big") == 17 * MB


def test_s3_dead_endpoint_says_where_and_hides_secret() -> None:
    endpoint = f"127.0.0.1:{free_port()}"  # nothing listens there
    store = S3ObjectStore(endpoint, "ak", SECRET, "mailark", secure=False)
    t0 = time.perf_counter()
    with pytest.raises(ObjectStoreError) as info:
        store.put_if_absent("a/b", b"x")
    assert time.perf_counter() - t0 < 10
    msg = str(info.value)
    assert endpoint in msg and "mailark" in msg and "MAILARK_S3__ENDPOINT" in msg
    assert SECRET not in msg and SECRET not in repr(info.value)
    with pytest.raises(ObjectStoreError) as info2:
        store.get("a/b")
    assert endpoint in str(info2.value) and not isinstance(info2.value, ObjectNotFound)


def test_s3_missing_bucket_without_create(moto_endpoint: str) -> None:
    store = _s3(moto_endpoint, create_bucket=False)
    with pytest.raises(ObjectStoreError) as info:
        store.put("a", b"x")
    assert "bucket does not exist" in str(info.value) and store.bucket in str(info.value)


# ---- open_store -----------------------------------------------------------------------------
def test_open_store_from_settings(tmp_path: Path, moto_endpoint: str) -> None:
    from mailark.config.settings import Settings

    local = open_store(Settings(home=tmp_path, object_store="local"))
    assert isinstance(local, LocalObjectStore)
    assert local.data_path() == f"{tmp_path}/objects/"

    bucket = _bucket()
    s3 = open_store(
        Settings(
            home=tmp_path,
            object_store="s3",
            s3={
                "endpoint": moto_endpoint,
                "access_key": "testing",
                "secret_key": SECRET,
                "bucket": bucket,
                "secure": False,
                "region": "us-east-1",
            },
        )
    )
    assert isinstance(s3, S3ObjectStore)
    assert s3.put_if_absent("x/y", b"z") is True
    assert s3.data_path() == f"s3://{bucket}/"
    assert SECRET not in s3.describe()
