"""Running a query against an organization's index: paged hits, newest first or by relevance.

Readers open the index read-only and keep it between queries (`IndexCache`); a rebuild changes the
index's generation in state.json and the cache reopens it. No index yet means no hits (and
`ready=False`), never an error: the indexing flow creates it within a minute of the first mail.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import tantivy

from mailark.catalog.search import shipping
from mailark.catalog.search.index import PAIRS_SINCE, IndexState, exists, index_dir, open_index, read_state
from mailark.catalog.search.query import MailboxResolver, QueryError, compile_query

SORTS = ("newest", "oldest", "relevance")
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
    index: tantivy.Index
    meta: bytes | None = None  # meta.json as of the last reload; None: reload


class IndexCache:
    """Open indexes of the organizations this process searches, reopened after a rebuild.

    An index is reloaded only when its meta.json changed: a reload opens every segment's readers
    again (0.3 ms and colder caches on 1M documents), for nothing when no commit happened."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Path, _Entry] = {}

    def get(self, path: Path) -> tuple[tantivy.Index, str] | None:
        """The index at `path`, reloaded to the indexer's latest commit, and its generation."""
        state = read_state(path)
        if state is None or not exists(path):
            return None
        with self._lock:
            entry = self._open.get(path)
            if entry is None or entry.token != _token(path, state):
                entry = _Entry(_token(path, state), open_index(path))
                self._open[path] = entry
        meta = _meta(path)  # before the reload: a commit after it is seen by the next search
        if meta is not None and meta == entry.meta:
            return entry.index, entry.token
        try:
            entry.index.reload()  # see the latest commit of the indexer
            entry.meta = meta
        except Exception:  # noqa: BLE001 - swapped by a rebuild between our look at state.json and now
            self.forget(path)
            if not exists(path):
                return None
            meta = _meta(path)
            entry = _Entry(_token(path, read_state(path) or state), open_index(path), meta)
            with self._lock:
                self._open[path] = entry
        return entry.index, entry.token

    def forget(self, path: Path) -> None:
        with self._lock:
            self._open.pop(path, None)


_default_cache = IndexCache()


@dataclass
class _Opened:
    searcher: tantivy.Searcher
    indexed: frozenset[str] | None  # every mailbox id the index may hold; None: unknown
    pairs: bool  # the index has the `pairs` field


def _open_searcher(cache: IndexCache | None, path: Path) -> _Opened | None:
    """A searcher on the latest commit, with what its state.json says about it.

    state.json is read after the searcher is taken: the indexer records a new mailbox before it
    commits its documents, so the list read now covers everything this searcher can see. A state of
    another generation (a rebuild swapped in meanwhile) is not used."""
    shipping.refresh(path.parent.parent, path.name)
    got = (cache or _default_cache).get(path)
    if got is None:
        return None
    idx, generation = got
    searcher = idx.searcher()
    state = read_state(path)
    if state is None or _token(path, state) != generation:
        return _Opened(searcher, None, False)
    return _Opened(searcher, frozenset(state.mailboxes) if state.mailboxes is not None else None,
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
    searcher = opened.searcher
    query = compile_query(text, readable_mailbox_ids, mailbox_ids=mailbox_ids, resolve_mailbox=resolve_mailbox,
                          every_mailbox=every_mailbox, indexed_mailboxes=opened.indexed, pairs=opened.pairs)
    if sort == "relevance":
        res = searcher.search(query, limit=per_page, count=True, offset=offset)
    else:
        order = tantivy.Order.Desc if sort == "newest" else tantivy.Order.Asc
        res = searcher.search(query, limit=per_page, count=True, offset=offset, order_by_field="ts", order=order)
    result.total = int(res.count or 0)
    for score, addr in res.hits:
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
    searcher = opened.searcher
    query = compile_query(text, readable_mailbox_ids, resolve_mailbox=resolve_mailbox, every_mailbox=every_mailbox,
                          indexed_mailboxes=opened.indexed, pairs=opened.pairs)
    total = int(searcher.search(query, limit=1, count=True).count or 0)
    if total > limit:
        raise QueryError(f"the query matches {total} messages, more than {limit} at once: narrow it (e.g. after:, folder:)")
    if total == 0:
        return []
    res = searcher.search(query, limit=total, count=False, order_by_field="ts", order=tantivy.Order.Desc)
    return [str(_first(searcher.doc(addr).to_dict(), "item_id")) for _, addr in res.hits]
