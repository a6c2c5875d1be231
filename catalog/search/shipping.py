"""The search index shared through the object store, so every replica and worker can search it.

With `search.shared` on, the machine that indexes an organization publishes each new state of its
index as a *generation*: the index files, sealed with the organization's key like everything else
under `orgs/<org_id>/`, at `orgs/<org_id>/search/files/<keyed digest of the content>` (tantivy
segment files are immutable, so a generation uploads only the segments it added), and a sealed
manifest `orgs/<org_id>/search/gens/<seq>` naming them. The manifest is written with
`put_if_absent`: two writers racing for the same generation cannot both win, the loser's run is
discarded and the next run starts from the winner's index (single writer per generation, with no
lock shared between machines). Replicas keep a plain local copy in their key room
(`db/search/<org_id>/`, as a single machine does) and look for a newer generation at most every
`search.refresh_seconds`; a replica with no copy fetches it on its first query, or before, when the
web app starts (`prewarm`).

Large files are stored as parts of `PART_BYTES`, each named by the keyed digest of its own bytes and
sealed under that name, so a part cannot be moved to another place; the manifest (format 2) lists
each file's parts in order and its size. A pull fetches, unseals and writes parts on a few threads
(the store clients, AES-GCM and zstd release the GIL), each written at its place in the file, so a
1 GB segment is never held whole in memory. Format-1 manifests (one object per file) stay readable.

Org deletion removes `orgs/<org_id>/` and with it the shared index; the local copies are removed by
`index.drop_index` on the machine that deletes, and by the next refresh elsewhere (no generation).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailark.catalog.archive import OrgArchive
    from mailark.storage.crypto import Sealer
    from mailark.storage.objects import ObjectStore

log = logging.getLogger(__name__)

SHIPPED_FILE = "shipped.json"  # in a local copy: {"seq": n, "files": {file name: [part objects]}, "stats": ...}
KEEP_GENERATIONS = 3  # older manifests (and files only they name) are pruned by the writer
FORMAT = 2  # manifests: {"format": 2, "part_bytes": n, "files": {name: [part objects]}, "sizes": {name: bytes}}
PART_BYTES = 16 << 20  # a larger index file is stored as parts of this size (plaintext)
THREADS = 4  # parts fetched (or published) at once: memory is about THREADS x 3 x PART_BYTES


class ShippedIndexError(RuntimeError):
    """A generation in the store cannot be made into a local copy (a part missing or not ours)."""


def prefix(org_id: str) -> str:
    return f"orgs/{org_id}/search/"


def _gen_name(org_id: str, seq: int) -> str:
    return f"{prefix(org_id)}gens/{seq:012d}"


@dataclass(frozen=True)
class Shelf:
    """What a process needs to read one organization's shared index: the store and its sealer."""
    store: ObjectStore
    sealer: Sealer
    name_digest: Callable[[bytes], bytes]


class Registry:
    """Per home (db_dir): how to reach an organization's shared index, and when each was last checked.

    The runtime registers a home when `search.shared` is on; searches and the indexer of that home
    then publish and refresh. Nothing registered: the local index alone, as on a single machine."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._homes: dict[Path, tuple[Callable[[], ObjectStore], Callable[[str], Shelf], float]] = {}
        self._checked: dict[tuple[Path, str], float] = {}
        self._org_locks: dict[tuple[Path, str], threading.Lock] = {}

    def register(self, db_dir: Path, store: Callable[[], ObjectStore], shelf_for: Callable[[str], Shelf],
                 refresh_seconds: float) -> None:
        """`store` alone tells whether a generation exists (a deleted organization has no keys left)."""
        with self._lock:
            self._homes[db_dir] = (store, shelf_for, refresh_seconds)

    def unregister(self, db_dir: Path) -> None:
        with self._lock:
            self._homes.pop(db_dir, None)

    def home(self, db_dir: Path) -> tuple[Callable[[], ObjectStore], Callable[[str], Shelf], float] | None:
        with self._lock:
            return self._homes.get(db_dir)

    def org_lock(self, db_dir: Path, org_id: str) -> threading.Lock:
        with self._lock:
            return self._org_locks.setdefault((db_dir, org_id), threading.Lock())

    def due(self, db_dir: Path, org_id: str, every: float) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._checked.get((db_dir, org_id))
            if last is not None and now - last < every:
                return False
            self._checked[(db_dir, org_id)] = now
            return True


registry = Registry()


def shared(db_dir: Path) -> bool:
    return registry.home(db_dir) is not None


def shelf_of(archive: OrgArchive) -> Shelf:
    return Shelf(archive.store, archive.sealer, archive.keys.name_digest)


# ---- reading the store --------------------------------------------------------------------------------

def latest_seq(store: ObjectStore, org_id: str) -> int | None:
    """The newest published generation of the organization's index (None: none published)."""
    seqs = [int(i.name.rsplit("/", 1)[1]) for i in store.list(f"{prefix(org_id)}gens/")]
    return max(seqs) if seqs else None


@dataclass(frozen=True)
class Manifest:
    """One generation: each file's parts (objects, in order), and its size when the format says."""
    files: dict[str, list[str]]
    sizes: dict[str, int]
    part_bytes: int

    def objects(self) -> set[str]:
        return {o for parts in self.files.values() for o in parts}


def _manifest(shelf: Shelf, org_id: str, seq: int) -> Manifest:
    name = _gen_name(org_id, seq)
    doc = json.loads(shelf.sealer.open(shelf.store.get(name), name))
    fmt = doc.get("format", 1)
    if fmt == 1:  # one object per file, sealed whole (sessions before 7)
        return Manifest({str(k): [str(v)] for k, v in doc["files"].items()}, {}, 0)
    if fmt != FORMAT:
        raise ShippedIndexError(f"generation {seq} of the shared search index of {org_id} has format {fmt}, which "
                                "this mailark does not read: upgrade this node to the version that published it")
    return Manifest({str(k): [str(o) for o in v] for k, v in doc["files"].items()},
                    {str(k): int(v) for k, v in doc["sizes"].items()}, int(doc["part_bytes"]))


def _shipped(path: Path) -> dict[str, object]:
    try:
        return dict(json.loads((path / SHIPPED_FILE).read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def _have(path: Path) -> dict[str, list[str]]:
    """The parts of each file of the local copy, as the generation it was pulled from (or published) named them."""
    files = _shipped(path).get("files") or {}
    return {str(k): [str(v)] if isinstance(v, str) else [str(o) for o in v]
            for k, v in dict(files).items()}  # type: ignore[call-overload]


def _stats(path: Path, names: Iterable[str]) -> dict[str, list[int]]:
    """Size, mtime and inode of each file: a file that still has them is the one its parts were made
    from (index files are written once, under new names or by rename), so publishing need not read it."""
    out = {}
    for n in names:
        st = (path / n).stat()
        out[n] = [st.st_size, st.st_mtime_ns, st.st_ino]
    return out


def _index_files(path: Path) -> list[str]:
    """The files a generation is made of, by their name under `path` (a part's files are `part-N/...`)."""
    return [f.relative_to(path).as_posix() for f in sorted(path.rglob("*"))
            if f.is_file() and f.name != SHIPPED_FILE and not f.name.endswith((".lock", ".tmp"))]


def _placed(root: Path, name: str) -> Path:
    """Where a manifest's file goes under `root`: a file of the index or of one of its parts, never
    elsewhere (the manifest is sealed with the organization's key; this is a second fence)."""
    steps = name.split("/")
    if (len(steps) > 2 or any(s in ("", ".", "..") for s in steps)
            or (len(steps) == 2 and not (steps[0].startswith("part-") and steps[0][5:].isdigit()))):
        raise ShippedIndexError(f"the shared index names a file outside the index ({name!r}); the local copy is kept")
    return root.joinpath(*steps)


def local_seq(path: Path) -> int | None:
    seq = _shipped(path).get("seq")
    return seq if isinstance(seq, int) else None


class _PerThread(threading.local):
    """A Sealer per thread of a pull or publish (a Sealer holds its own zstd contexts)."""

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer.copy()


def _run(threads: int, jobs: Iterable[Callable[[], None]]) -> None:
    """Run every job on `threads` threads; the first error is raised once all have stopped."""
    jobs = list(jobs)
    if threads <= 1 or len(jobs) <= 1:
        for job in jobs:
            job()
        return
    with ThreadPoolExecutor(min(threads, len(jobs)), thread_name_prefix="search-ship") as pool:
        futures = [pool.submit(job) for job in jobs]
        wait(futures, return_when=FIRST_EXCEPTION)
        for f in futures:
            f.cancel()  # after a failure, the parts not yet started are not fetched
    for f in futures:
        if f.done() and not f.cancelled() and f.exception() is not None:
            raise f.exception()  # type: ignore[misc]


def _fetch_part(shelf: Shelf, local: _PerThread, org_id: str, obj: str, fd: int, at: int, want: int | None,
                fname: str, i: int, n: int) -> None:
    """Fetch, unseal and write one part at its place in the file."""
    from mailark.storage.crypto import IntegrityError
    from mailark.storage.objects import ObjectNotFound

    where = f"file {fname} (part {i + 1} of {n}) of the shared search index of {org_id}"
    try:
        sealed = shelf.store.get(obj)
    except ObjectNotFound:
        raise ShippedIndexError(f"{where} is missing from the store ({obj}); the local copy is kept. If the next "
                                "generation does not bring it, rebuild the index on the indexing node "
                                "(`mailark search index --org ORG --rebuild`), which publishes every file anew") from None
    try:
        plain = local.sealer.open(sealed, obj)
    except IntegrityError as e:
        raise ShippedIndexError(f"{where} failed authentication ({e}); the local copy is kept and nothing of "
                                "that generation is used") from None
    del sealed
    if want is not None and len(plain) != want:
        raise ShippedIndexError(f"{where} holds {len(plain)} bytes where the manifest says {want}; the local copy "
                                "is kept and nothing of that generation is used")
    with memoryview(plain) as view:
        done = 0
        while done < len(plain):
            done += os.pwrite(fd, view[done:], at + done)


def pull(shelf: Shelf, org_id: str, path: Path, seq: int, *, threads: int = THREADS) -> None:
    """Make `path` a copy of generation `seq`: files the local copy has are kept (linked), the rest
    fetched part by part on `threads` threads. Nothing is swapped in unless every part arrived whole."""
    from mailark.catalog.search.indexer import swap_in

    man = _manifest(shelf, org_id, seq)
    have = _have(path)
    new = path.with_name(f"{path.name}.pull")
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True, mode=0o700)
    local = _PerThread(shelf.sealer)
    jobs: list[Callable[[], None]] = []
    fds: list[int] = []
    try:
        for fname, parts in man.files.items():
            target = _placed(new, fname)
            target.parent.mkdir(mode=0o700, exist_ok=True)
            if have.get(fname) == parts and (path / fname).is_file():
                try:
                    os.link(path / fname, target)  # index files are never changed in place
                except OSError:
                    shutil.copyfile(path / fname, target)
                continue
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            fds.append(fd)
            size = man.sizes.get(fname)
            if size is not None:
                os.ftruncate(fd, size)
            for i, obj in enumerate(parts):
                want = None
                if size is not None:
                    want = min(man.part_bytes, size - i * man.part_bytes)
                jobs.append(partial(_fetch_part, shelf, local, org_id, obj, fd, i * man.part_bytes, want, fname, i,
                                    len(parts)))
        _run(threads, jobs)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    finally:
        for fd in fds:
            os.close(fd)
    (new / SHIPPED_FILE).write_text(json.dumps({"seq": seq, "files": man.files, "stats": _stats(new, man.files)}))
    swap_in(new, path)


def refresh(db_dir: Path, org_id: str, *, force: bool = False) -> None:
    """Bring this home's copy of the organization's index to the newest generation, if one is due.

    Cheap when nothing changed (one listing of a small prefix, at most every `refresh_seconds`).
    Errors are logged and the local copy kept: a search answers from what the replica has."""
    from mailark.catalog.search.index import index_dir

    home = registry.home(db_dir)
    if home is None:
        return
    store_of, shelf_for, every = home
    path = index_dir(db_dir, org_id)
    if not force and path.exists() and not registry.due(db_dir, org_id, every):
        return
    with registry.org_lock(db_dir, org_id):
        try:
            seq = latest_seq(store_of(), org_id)
            if seq is None:
                if local_seq(path) is not None:  # the shared index is gone (the organization deleted)
                    shutil.rmtree(path, ignore_errors=True)
                return
            if local_seq(path) != seq:
                pull(shelf_for(org_id), org_id, path, seq)
        except Exception as e:  # noqa: BLE001 - a replica keeps answering from its copy
            log.warning("could not refresh the shared search index of %s (%s); searching the local copy",
                        org_id, e)


class Warmup:
    """The background pull a web replica starts with (`prewarm`): which organizations are still to do."""

    def __init__(self, org_ids: list[str]) -> None:
        self.pending = list(org_ids)
        self.done = threading.Event()
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None

    def stop(self) -> None:
        """No further organization is started (the one being pulled finishes)."""
        self._stop.set()


def prewarm(db_dir: Path, org_ids: list[str]) -> Warmup | None:
    """Pull every organization's newest generation in the background, so a replica started cold is
    warm before users arrive. A search for an organization being pulled waits for that pull (the
    organization's lock), it does not start a second one. None when this home is not shared."""
    warm = Warmup(org_ids)
    if registry.home(db_dir) is None:
        return None

    def run() -> None:
        started = time.monotonic()
        try:
            while warm.pending and not warm._stop.is_set():
                refresh(db_dir, warm.pending[0], force=True)
                warm.pending.pop(0)
        finally:
            warm.done.set()
        log.info("shared search index warm for %d organizations in %.1f s", len(org_ids), time.monotonic() - started)

    warm.thread = threading.Thread(target=run, name="search-prewarm", daemon=True)
    warm.thread.start()
    return warm


# ---- publishing ---------------------------------------------------------------------------------------

@contextmanager
def shipped(archive: OrgArchive, db_dir: Path, path: Path) -> Iterator[None]:
    """Around a write of the index (inside its writing lane): with `search.shared` on, start from the
    newest published generation and publish the next one after. Another writer published first:
    this run's index is dropped, and the next run starts from theirs. Off: nothing."""
    if not shared(db_dir):
        yield
        return
    shelf = shelf_of(archive)
    base = latest_seq(shelf.store, archive.org_id)
    if base is not None and local_seq(path) != base:
        pull(shelf, archive.org_id, path, base)
    yield
    if path.is_dir() and publish(shelf, archive.org_id, path, base) is None:
        log.warning("another machine published the search index of %s first; this run is dropped", archive.org_id)
        shutil.rmtree(path, ignore_errors=True)


def publish(shelf: Shelf, org_id: str, path: Path, base: int | None, *, threads: int = THREADS) -> int | None:
    """Publish the index at `path` as the generation after `base`: the new seq, or None if another
    writer published that generation first (this run's work is then dropped by the caller).
    Files are read and sealed part by part (`PART_BYTES`), on `threads` threads."""
    seq = (base or 0) + 1
    current = _shipped(path)
    have = _have(path)
    had = {o for parts in have.values() for o in parts}
    names = _index_files(path)
    stats = _stats(path, names)
    sizes = {n: st[0] for n, st in stats.items()}
    files: dict[str, list[str]] = {n: [""] * max(1, -(-sizes[n] // PART_BYTES)) for n in names}
    known = dict(current.get("stats") or {})  # type: ignore[call-overload]
    unchanged = {n for n in files if known.get(n) == stats[n] and len(have.get(n, [])) == len(files[n])}
    for n in unchanged:  # the files of the generation this copy is, untouched since: not read again
        files[n] = list(have[n])
    local = _PerThread(shelf.sealer)

    def ship(name: str, i: int) -> None:
        with open(path / name, "rb") as fh:
            fh.seek(i * PART_BYTES)
            data = fh.read(PART_BYTES)
        obj = f"{prefix(org_id)}files/{shelf.name_digest(data).hex()}"
        if obj not in had and not shelf.store.exists(obj):
            shelf.store.put(obj, local.sealer.seal(data, obj), durable=True)
        files[name][i] = obj

    _run(threads, [lambda n=n, i=i: ship(n, i) for n in names if n not in unchanged for i in range(len(files[n]))])
    if base is not None and current.get("seq") == base and files == have:
        if known != stats:  # e.g. a copy shipped before stats were kept: the next run need not read it
            (path / SHIPPED_FILE).write_text(json.dumps({"seq": base, "files": files, "stats": stats}))
        return base  # nothing changed since the generation this copy is
    name = _gen_name(org_id, seq)
    manifest = json.dumps({"format": FORMAT, "part_bytes": PART_BYTES, "files": files, "sizes": sizes}).encode()
    if not shelf.store.put_if_absent(name, shelf.sealer.seal(manifest, name), durable=True):
        return None
    (path / SHIPPED_FILE).write_text(json.dumps({"seq": seq, "files": files, "stats": stats}))
    _prune(shelf, org_id, seq)
    return seq


def _prune(shelf: Shelf, org_id: str, seq: int) -> None:
    """Drop manifests older than the last few, then files no kept manifest names (a replica pulling
    an old generation retries on the next one)."""
    try:
        gens = sorted(int(i.name.rsplit("/", 1)[1]) for i in shelf.store.list(f"{prefix(org_id)}gens/"))
        keep = [g for g in gens if g > seq - KEEP_GENERATIONS]
        named: set[str] = set()
        for g in keep:
            named.update(_manifest(shelf, org_id, g).objects())
        for g in gens:
            if g not in keep:
                shelf.store.delete(_gen_name(org_id, g))
        for info in list(shelf.store.list(f"{prefix(org_id)}files/")):
            if info.name not in named:
                shelf.store.delete(info.name)
    except Exception as e:  # noqa: BLE001 - pruning is retried by the next publish
        log.warning("could not prune old search index generations of %s (%s)", org_id, e)


def drop_shared(store: ObjectStore, org_id: str) -> int:
    """Delete every shared index object of the organization; how many."""
    names = [i.name for i in store.list(prefix(org_id))]
    for n in names:
        store.delete(n)
    return len(names)
