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
`search.refresh_seconds`; a replica with no copy fetches it on its first query.

Org deletion removes `orgs/<org_id>/` and with it the shared index; the local copies are removed by
`index.drop_index` on the machine that deletes, and by the next refresh elsewhere (no generation).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailark.catalog.archive import OrgArchive
    from mailark.storage.crypto import Sealer
    from mailark.storage.objects import ObjectStore

log = logging.getLogger(__name__)

SHIPPED_FILE = "shipped.json"  # in a local copy: {"seq": n, "files": {file name: object name}}
KEEP_GENERATIONS = 3  # older manifests (and files only they name) are pruned by the writer


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


def _manifest(shelf: Shelf, org_id: str, seq: int) -> dict[str, str]:
    name = _gen_name(org_id, seq)
    return dict(json.loads(shelf.sealer.open(shelf.store.get(name), name))["files"])


def _shipped(path: Path) -> dict[str, object]:
    try:
        return dict(json.loads((path / SHIPPED_FILE).read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def local_seq(path: Path) -> int | None:
    seq = _shipped(path).get("seq")
    return seq if isinstance(seq, int) else None


def pull(shelf: Shelf, org_id: str, path: Path, seq: int) -> None:
    """Make `path` a copy of generation `seq`: files the local copy has are kept, the rest fetched."""
    from mailark.catalog.search.indexer import swap_in

    files = _manifest(shelf, org_id, seq)
    have = {str(k): str(v) for k, v in dict(_shipped(path).get("files") or {}).items()}  # type: ignore[call-overload]
    new = path.with_name(f"{path.name}.pull")
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True, mode=0o700)
    for fname, obj in files.items():
        if have.get(fname) == obj and (path / fname).is_file():
            shutil.copyfile(path / fname, new / fname)
        else:
            (new / fname).write_bytes(shelf.sealer.open(shelf.store.get(obj), obj))
    (new / SHIPPED_FILE).write_text(json.dumps({"seq": seq, "files": files}))
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


def publish(shelf: Shelf, org_id: str, path: Path, base: int | None) -> int | None:
    """Publish the index at `path` as the generation after `base`: the new seq, or None if another
    writer published that generation first (this run's work is then dropped by the caller)."""
    seq = (base or 0) + 1
    current = _shipped(path)
    have = {str(k): str(v) for k, v in dict(current.get("files") or {}).items()}  # type: ignore[call-overload]
    files: dict[str, str] = {}
    for f in sorted(path.iterdir()):
        if not f.is_file() or f.name in (SHIPPED_FILE,) or f.name.endswith(".lock") or f.name.endswith(".tmp"):
            continue
        data = f.read_bytes()
        obj = f"{prefix(org_id)}files/{shelf.name_digest(data).hex()}"
        if have.get(f.name) != obj and not shelf.store.exists(obj):
            shelf.store.put(obj, shelf.sealer.seal(data, obj), durable=True)
        files[f.name] = obj
    if base is not None and current.get("seq") == base and files == have:
        return base  # nothing changed since the generation this copy is
    name = _gen_name(org_id, seq)
    manifest = json.dumps({"files": files}).encode()
    if not shelf.store.put_if_absent(name, shelf.sealer.seal(manifest, name), durable=True):
        return None
    (path / SHIPPED_FILE).write_text(json.dumps({"seq": seq, "files": files}))
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
            named.update(_manifest(shelf, org_id, g).values())
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
