"""The shared index shipped in parts (format 2): large files round-trip byte-exact through a local store
and S3 (moto), in bounded memory; a part swapped or missing is refused with a clear error and the
local copy is kept; format-1 generations stay readable; a web replica pulls at start-up (pre-warm)
and a search during that pull waits for it instead of starting a second one."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailark.catalog.search import shipping
from mailark.catalog.search.indexer import sync_index
from mailark.catalog.search.searcher import IndexCache
from mailark.runtime import Runtime
from mailark.storage.crypto import DataKey, Sealer
from mailark.storage.local import LocalObjectStore
from mailark.storage.objects import ObjectStore
from tests.search.mails import message
from tests.search.test_shared_index import WORD, _arc, _hits, two  # noqa: F401 - `two` is a fixture

PART = 64 << 10
ORG = "org-parts"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "objects")
        return
    from mailark.storage.s3 import S3ObjectStore

    endpoint = request.getfixturevalue("moto_endpoint")
    yield S3ObjectStore(endpoint, "testing", "testing-secret", f"parts-{uuid.uuid4().hex[:12]}", secure=False)


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shipping, "PART_BYTES", PART)


def _shelf(store: ObjectStore) -> shipping.Shelf:
    key = DataKey(b"k" * 8, hashlib.sha256(b"test key").digest())
    return shipping.Shelf(store, Sealer(ORG, key), lambda b: hashlib.sha256(b"naming" + b).digest())


def _files(path: Path) -> dict[str, bytes]:
    """Index-like files: empty, small, exactly two parts, three and a half parts of varied bytes."""
    path.mkdir(parents=True)
    files = {"meta.json": b'{"segments": []}', "empty.store": b"", "two.idx": os.urandom(2 * PART),
             "big.pos": os.urandom(PART // 2) + bytes(PART * 2) + os.urandom(PART),
             "state.json": b'{"snapshot": 1}'}
    for name, data in files.items():
        (path / name).write_bytes(data)
    return files


def _read(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in path.iterdir() if f.name != shipping.SHIPPED_FILE}


def test_large_files_round_trip_in_parts(store: ObjectStore, small_parts: None, tmp_path: Path) -> None:
    shelf = _shelf(store)
    files = _files(tmp_path / "a" / ORG)
    seq = shipping.publish(shelf, ORG, tmp_path / "a" / ORG, None)
    assert seq == 1
    man = shipping._manifest(shelf, ORG, 1)
    assert len(man.files["big.pos"]) == 4 and len(man.files["two.idx"]) == 2 and len(man.files["meta.json"]) == 1
    assert man.sizes["big.pos"] == len(files["big.pos"])
    stored = {i.name for i in store.list(shipping.prefix(ORG) + "files/")}
    assert man.objects() == stored  # every part is its own object (the zero parts of big.pos: one object)

    b = tmp_path / "b" / ORG
    shipping.pull(shelf, ORG, b, 1)
    assert _read(b) == files
    assert shipping.local_seq(b) == 1
    for name, data in files.items():  # the store holds ciphertext only
        if len(data) > 64:
            assert not any(data[:64] in store.get(o) for o in man.files[name])

    # a new generation that changes one file: the others are kept (linked), the changed one fetched
    (tmp_path / "a" / ORG / "meta.json").write_bytes(b'{"segments": ["x"]}')
    assert shipping.publish(shelf, ORG, tmp_path / "a" / ORG, 1) == 2
    inode = (b / "big.pos").stat().st_ino
    shipping.pull(shelf, ORG, b, 2)
    assert _read(b) == {**files, "meta.json": b'{"segments": ["x"]}'}
    assert (b / "big.pos").stat().st_ino == inode


def test_pull_memory_is_bounded_by_parts_not_files(small_parts: None, tmp_path: Path) -> None:
    """A file of 40 parts is never held whole: the peak is a few parts per thread, not the file."""
    shelf = _shelf(LocalObjectStore(tmp_path / "objects"))
    a = tmp_path / "a" / ORG
    a.mkdir(parents=True)
    (a / "huge.pos").write_bytes(os.urandom(40 * PART))
    shipping.publish(shelf, ORG, a, None)
    tracemalloc.start()
    try:
        shipping.pull(shelf, ORG, tmp_path / "b" / ORG, 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (tmp_path / "b" / ORG / "huge.pos").read_bytes() == (a / "huge.pos").read_bytes()
    assert peak < 3 * shipping.THREADS * PART + (512 << 10), peak  # the file is 40 parts (2.5 MiB)


def test_swapped_or_missing_parts_are_refused(store: ObjectStore, small_parts: None, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    shelf = _shelf(store)
    a = tmp_path / "a" / ORG
    files = _files(a)
    shipping.publish(shelf, ORG, a, None)
    b = tmp_path / "b" / ORG
    shipping.pull(shelf, ORG, b, 1)  # B has generation 1

    (a / "two.idx").write_bytes(os.urandom(2 * PART))
    (a / "big.pos").write_bytes(os.urandom(3 * PART + 7))
    shipping.publish(shelf, ORG, a, 1)
    parts = shipping._manifest(shelf, ORG, 2).files["big.pos"]
    first, second = store.get(parts[0]), store.get(parts[1])
    store.put(parts[0], second)  # two parts of one file swapped in the store
    store.put(parts[1], first)
    with pytest.raises(shipping.ShippedIndexError, match=r"big.pos \(part [12] of 4\).*failed authentication"):
        shipping.pull(shelf, ORG, b, 2)
    assert _read(b) == files and shipping.local_seq(b) == 1  # the copy B had, untouched
    assert not b.with_name(f"{ORG}.pull").exists()

    store.put(parts[0], first)
    store.put(parts[1], second)
    store.delete(parts[2])  # a part missing
    with pytest.raises(shipping.ShippedIndexError, match=r"big.pos \(part 3 of 4\).*missing from the store"):
        shipping.pull(shelf, ORG, b, 2)
    assert _read(b) == files and shipping.local_seq(b) == 1

    # a part of another file put in place of one of big.pos: refused too (its name is part of the seal)
    store.put(parts[2], store.get(shipping._manifest(shelf, ORG, 2).files["two.idx"][0]))
    with pytest.raises(shipping.ShippedIndexError, match="failed authentication"):
        shipping.pull(shelf, ORG, b, 2, threads=1)
    assert _read(b) == files


def test_format_1_generations_stay_readable(tmp_path: Path) -> None:
    """A generation published before parts (one object per file, no format marker) is pulled as before."""
    store = LocalObjectStore(tmp_path / "objects")
    shelf = _shelf(store)
    files = {"meta.json": b"{}", "seg.pos": os.urandom(300_000)}
    names = {}
    for fname, data in files.items():
        obj = f"{shipping.prefix(ORG)}files/{shelf.name_digest(data).hex()}"
        store.put(obj, shelf.sealer.seal(data, obj))
        names[fname] = obj
    gen = f"{shipping.prefix(ORG)}gens/{1:012d}"
    store.put(gen, shelf.sealer.seal(json.dumps({"files": names}).encode(), gen))
    b = tmp_path / "b" / ORG
    shipping.pull(shelf, ORG, b, 1)
    assert _read(b) == files
    # and the next publish from that copy reuses the format-1 objects of files under one part
    assert shipping.publish(shelf, ORG, b, 1) == 1  # nothing changed: no new generation
    (b / "meta.json").write_bytes(b'{"x": 1}')
    assert shipping.publish(shelf, ORG, b, 1) == 2
    assert shipping._manifest(shelf, ORG, 2).files["seg.pos"] == [names["seg.pos"]]


def test_web_replica_prewarms_and_a_search_waits_for_the_pull(two: tuple[Runtime, Runtime],  # noqa: F811
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from mailark.dashboards.app import create_app

    a, b = two
    arc = _arc(a)
    arc.put(arc.ann, [message(i, body=f"report {WORD} {i}") for i in range(4)])
    sync_index(arc.archive, a.settings.db_dir)
    b_path = b.settings.db_dir / "search" / arc.archive.org_id
    assert not b_path.exists()

    real_pull = shipping.pull
    pulls: list[int] = []
    started = threading.Event()

    def slow_pull(*args: object, **kw: object) -> None:
        pulls.append(1)
        started.set()
        time.sleep(0.5)  # long enough for the search below to arrive while this pull is in flight
        real_pull(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(shipping, "pull", slow_pull)
    app = create_app(b.settings)
    with TestClient(app):  # runs the start-up: the pre-warm begins, before any user
        warm = app.state.search_warmup
        assert warm is not None and started.wait(30)
        assert len(_hits(b, arc, WORD, IndexCache())) == 4  # waited for the pre-warm's pull
        assert pulls == [1] and warm.done.wait(30) and warm.pending == []
    assert b_path.is_dir() and shipping.local_seq(b_path) is not None


def test_prewarm_is_off_without_search_shared(tmp_path: Path) -> None:
    assert shipping.prewarm(tmp_path / "db", ["x"]) is None


def test_publish_reads_only_the_files_that_changed(small_parts: None, tmp_path: Path) -> None:
    """An indexing run publishes after every run: the files of the previous generation, untouched since
    (same size, mtime and inode), are not read and digested again; a copy pulled from the store counts too."""
    digested: list[int] = []
    base = _shelf(LocalObjectStore(tmp_path / "objects"))
    shelf = shipping.Shelf(base.store, base.sealer, lambda b: digested.append(len(b)) or base.name_digest(b))
    a = tmp_path / "a" / ORG
    files = _files(a)
    assert shipping.publish(shelf, ORG, a, None) == 1
    assert len(digested) == 1 + 1 + 2 + 4 + 1  # every part once
    digested.clear()
    assert shipping.publish(shelf, ORG, a, 1) == 1 and digested == []  # nothing changed, nothing read
    doc = json.loads((a / shipping.SHIPPED_FILE).read_text())
    del doc["stats"]  # a copy shipped before stats were kept: read once, then not again
    (a / shipping.SHIPPED_FILE).write_text(json.dumps(doc))
    assert shipping.publish(shelf, ORG, a, 1) == 1 and len(digested) == 9
    digested.clear()
    assert shipping.publish(shelf, ORG, a, 1) == 1 and digested == []
    (a / "meta.json.tmp").write_bytes(b'{"segments": ["new"]}')
    os.replace(a / "meta.json.tmp", a / "meta.json")  # as tantivy writes it: a new file by rename
    (a / "new.pos").write_bytes(os.urandom(PART + 1))
    assert shipping.publish(shelf, ORG, a, 1) == 2
    assert sorted(digested) == [1, len(b'{"segments": ["new"]}'), PART]  # meta.json and the new file's 2 parts
    b = tmp_path / "b" / ORG
    shipping.pull(shelf, ORG, b, 2)
    digested.clear()
    (b / "state.json.tmp").write_bytes(b'{"snapshot": 2}')
    os.replace(b / "state.json.tmp", b / "state.json")
    assert shipping.publish(shelf, ORG, b, 2) == 3 and digested == [len(b'{"snapshot": 2}')]
    shipping.pull(shelf, ORG, tmp_path / "c" / ORG, 3)
    assert _read(tmp_path / "c" / ORG) == {**files, "meta.json": b'{"segments": ["new"]}',
                                           "new.pos": (a / "new.pos").read_bytes(), "state.json": b'{"snapshot": 2}'}
