"""Running a query against an organization's index: paged hits, newest first or by relevance.

Readers open the index read-only and keep it between queries (`IndexCache`); a rebuild changes the
index's generation in state.json and the cache reopens it. No index yet means no hits (and
`ready=False`), never an error: the indexing flow creates it within a minute of the first mail.
"""

from __future__ import annotations

import heapq
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import TypeVar

import tantivy

from mailark.catalog.search import shipping
from mailark.catalog.search.index import (
    PAIRS_SINCE,
    IndexState,
    exists,
    index_dir,
    open_index,
    part_paths,
    read_state,
)
from mailark.catalog.search.query import MailboxResolver, QueryError, compile_query

SORTS = ("newest", "oldest", "relevance")
T = TypeVar("T")
MAX_PER_PAGE = 100
MAX_OFFSET = 10_000


@dataclass
class Hit:
    item_id: str
    mailbox_id: str
    mailbox: str
    folder: str
    date: datetime | None
    subject: str
    sender: str
    size: int
    score: float | None = None


@dataclass
class SearchPage:
    total: int
    page: int
    per_page: int
    sort: str
    hits: list[Hit] = field(default_factory=list)
    ready: bool = True  # False: the organization has no index yet


def _token(path: Path, state: IndexState) -> str:
    """What an open index is kept for: its generation, and the shared generation pulled (a pull
    swaps the directory, so the index open on the old one would never see the new segments)."""
    return f"{state.generation}@{shipping.local_seq(path)}"


def _meta(path: Path) -> bytes | None:
    """tantivy's meta.json, which every commit and merge rewrites (its opstamp grows): a few KB,
    compared whole, since a file's time and inode can repeat within a clock tick."""
    try:
        return (path / "meta.json").read_bytes()
    except FileNotFoundError:
        return None


@dataclass
class _Entry:
    token: str
    parts: list[tantivy.Index]  # one per part (index.part_paths)
    metas: list[bytes | None]  # each part's meta.json as of its last reload; None: reload


class IndexCache:
    """Open indexes of the organizations this process searches, reopened after a rebuild, and the
    threads that search an index's parts at once.

    A part is reloaded only when its meta.json changed: a reload opens every segment's readers again
    (0.3 ms and colder caches on 1M documents), for nothing when no commit happened."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Path, _Entry] = {}
        self._pool: tuple[int, ThreadPoolExecutor] | None = None  # with the pid that started its threads

    def get(self, path: Path) -> tuple[list[tantivy.Index], str] | None:
        """The parts of the index at `path`, reloaded to the indexer's latest commit, and its generation."""
        state = read_state(path)
        if state is None or not exists(path, state):
            return None
        with self._lock:
            entry = self._open.get(path)
            if entry is None or entry.token != _token(path, state):
                entry = self._opened(path, state)
        try:
            for i, part in enumerate(part_paths(path, len(entry.parts))):
                meta = _meta(part)  # before the reload: a commit after it is seen by the next search
                if meta is None or meta != entry.metas[i]:
                    entry.parts[i].reload()  # see the latest commit of the indexer
                    entry.metas[i] = meta
        except Exception:  # noqa: BLE001 - swapped by a rebuild between our look at state.json and now
            self.forget(path)
            state = read_state(path)
            if state is None or not exists(path, state):
                return None
            with self._lock:
                entry = self._opened(path, state)
        return entry.parts, entry.token

    def _opened(self, path: Path, state: IndexState) -> _Entry:
        paths = part_paths(path, state.parts)
        metas = [_meta(p) for p in paths]  # read before opening: a commit in between is reloaded next time
        entry = _Entry(_token(path, state), [open_index(p) for p in paths], metas)
        self._open[path] = entry
        return entry

    def forget(self, path: Path) -> None:
        with self._lock:
            self._open.pop(path, None)

    def each(self, searchers: list[tantivy.Searcher], job: Callable[[tantivy.Searcher], T]) -> list[T]:
        """`job` on every part at once: the first in this thread, the others on the cache's threads
        (tantivy releases the GIL while it searches)."""
        if len(searchers) == 1:
            return [job(searchers[0])]
        with self._lock:
            if self._pool is None or self._pool[0] != os.getpid():  # a forked child has none of the threads
                self._pool = (os.getpid(), ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="search-part"))
            pool = self._pool[1]
        others = [pool.submit(job, s) for s in searchers[1:]]
        first = job(searchers[0])
        return [first, *(f.result() for f in others)]


_default_cache = IndexCache()


@dataclass
class _Opened:
    cache: IndexCache
    searchers: list[tantivy.Searcher]  # one per part
    indexed: frozenset[str] | None  # every mailbox id the index may hold; None: unknown
    pairs: bool  # the index has the `pairs` field

    def search(self, query: tantivy.Query, limit: int, offset: int = 0, sort: str = "relevance", *,
               count: bool = True) -> tuple[int, list[tuple[float | int, tantivy.Searcher, tantivy.DocAddress]]]:
        """The total of every part (0 unless `count`), and hits `offset` to `offset + limit` of their
        merged ranking (by score or by date, as one index ranks them; each part's own order is kept
        among equals, so paging neither repeats nor skips)."""
        kw: dict[str, object] = {}
        if sort != "relevance":
            kw = {"order_by_field": "ts", "order": tantivy.Order.Asc if sort == "oldest" else tantivy.Order.Desc}

        def one(s: tantivy.Searcher) -> tantivy.SearchResult:
            return s.search(query, limit=offset + limit, count=count, **kw)  # type: ignore[arg-type]

        results = self.cache.each(self.searchers, one)
        ranked = [[(v, s, a) for v, a in r.hits] for s, r in zip(self.searchers, results, strict=True)]
        merged = heapq.merge(*ranked, key=lambda h: h[0], reverse=sort != "oldest")
        return sum(int(r.count or 0) for r in results), list(islice(merged, offset, offset + limit))


def _open_searcher(cache: IndexCache | None, path: Path) -> _Opened | None:
    """Searchers on the latest commit of every part, with what its state.json says about it.

    state.json is read after the searchers are taken: the indexer records a new mailbox before it
    commits its documents, so the list read now covers everything these searchers can see. A state
    of another generation (a rebuild swapped in meanwhile) is not used."""
    shipping.refresh(path.parent.parent, path.name)
    cache = cache or _default_cache
    got = cache.get(path)
    if got is None:
        return None
    parts, generation = got
    searchers = [idx.searcher() for idx in parts]
    state = read_state(path)
    if state is None or _token(path, state) != generation:
        return _Opened(cache, searchers, None, False)
    return _Opened(cache, searchers, frozenset(state.mailboxes) if state.mailboxes is not None else None,
                   state.schema_version >= PAIRS_SINCE)


def _first(d: dict[str, list[object]], name: str, default: object = "") -> object:
    v = d.get(name)
    return v[0] if v else default


def search(db_dir: Path, org_id: str, text: str, readable_mailbox_ids: set[str], *, page: int = 1,
           per_page: int = 25, sort: str = "newest", mailbox_ids: set[str] | None = None,
           cache: IndexCache | None = None, resolve_mailbox: MailboxResolver | None = None,
           every_mailbox: bool = False) -> SearchPage:
    """One page of the copies matching `text` among the mailboxes the principal may read."""
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)} (not {sort!r})")
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise QueryError(f"page starts at 1 and per_page is 1 to {MAX_PER_PAGE}")
    offset = (page - 1) * per_page
    if offset >= MAX_OFFSET:
        raise QueryError(f"results beyond the first {MAX_OFFSET} are not paged: narrow the query (e.g. after:, folder:)")
    result = SearchPage(0, page, per_page, sort)
    opened = _open_searcher(cache, index_dir(db_dir, org_id))
    if opened is None:
        compile_query(text, readable_mailbox_ids)  # a malformed query is refused even before the first index
        result.ready = False
        return result
    query = compile_query(text, readable_mailbox_ids, mailbox_ids=mailbox_ids, resolve_mailbox=resolve_mailbox,
                          every_mailbox=every_mailbox, indexed_mailboxes=opened.indexed, pairs=opened.pairs)
    result.total, hits = opened.search(query, per_page, offset, sort)
    for score, searcher, addr in hits:
        d = searcher.doc(addr).to_dict()
        ts = _first(d, "ts", None)
        result.hits.append(Hit(
            item_id=str(_first(d, "item_id")), mailbox_id=str(_first(d, "mailbox_id")), mailbox=str(_first(d, "mailbox")),
            folder=str(_first(d, "folder")), date=datetime.fromtimestamp(int(ts), UTC) if ts else None,  # type: ignore[arg-type]
            subject=str(_first(d, "subject")), sender=str(_first(d, "from_display")), size=int(_first(d, "size", 0)),  # type: ignore[call-overload]
            score=float(score) if sort == "relevance" else None,
        ))
    return result


MAX_SELECTION = 1_000_000


def matching_item_ids(db_dir: Path, org_id: str, text: str, readable_mailbox_ids: set[str], *,
                      limit: int = MAX_SELECTION, cache: IndexCache | None = None,
                      resolve_mailbox: MailboxResolver | None = None, every_mailbox: bool = False) -> list[str]:
    """Every copy a query matches among the readable mailboxes, newest first (an export "of a
    whole search"); QueryError if it matches more than `limit` (narrow the query)."""
    opened = _open_searcher(cache, index_dir(db_dir, org_id))
    if opened is None:
        compile_query(text, readable_mailbox_ids)  # a malformed query is refused even before the first index
        return []
    query = compile_query(text, readable_mailbox_ids, resolve_mailbox=resolve_mailbox, every_mailbox=every_mailbox,
                          indexed_mailboxes=opened.indexed, pairs=opened.pairs)
    total, _ = opened.search(query, 1)
    if total > limit:
        raise QueryError(f"the query matches {total} messages, more than {limit} at once: narrow it (e.g. after:, folder:)")
    if total == 0:
        return []
    _, hits = opened.search(query, total, sort="newest", count=False)
    return [str(_first(searcher.doc(addr).to_dict(), "item_id")) for _, searcher, addr in hits]
