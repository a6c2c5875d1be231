"""The permission clause of a principal who reads most mailboxes: excluding the few it may not
read finds exactly what listing the many it may would, and never a mailbox the index has not
recorded."""

from __future__ import annotations

from dataclasses import replace

from mailark.catalog.search.index import index_dir, read_state, write_state
from mailark.catalog.search.indexer import rebuild_index, sync_index
from mailark.catalog.search.searcher import IndexCache, search
from mailark.control.orgs import ensure_mailbox
from tests.search.conftest import Archive, Box
from tests.search.mails import message


def found(arc: Archive, readable: set[str], q: str = "") -> set[str]:
    page = search(arc.db_dir, arc.archive.org_id, q, readable, per_page=100, cache=IndexCache())  # type: ignore[arg-type]
    return {h.item_id for h in page.hits}


def test_the_index_records_every_mailbox_before_its_documents(arc: Archive, rt, org) -> None:  # type: ignore[no-untyped-def]
    path = index_dir(arc.db_dir, arc.archive.org_id)  # type: ignore[arg-type]
    arc.put(arc.ann, [message(1)])
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    assert read_state(path).mailboxes == [arc.ann.id]  # type: ignore[union-attr]

    with rt.session() as s:
        m, _ = ensure_mailbox(s, org, "new@acme.example")
    arc.put(Box(m.id, m.primary_address), [message(2)])
    arc.put(arc.info, [message(3)])
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    assert read_state(path).mailboxes == sorted({arc.ann.id, arc.info.id, m.id})  # type: ignore[union-attr]

    rebuild_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    assert read_state(path).mailboxes == sorted({arc.ann.id, arc.info.id, m.id})  # type: ignore[union-attr]


def test_excluding_what_may_not_be_read_finds_the_same_copies(arc: Archive, rt, org) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        extra = [ensure_mailbox(s, org, f"team{i}@acme.example")[0] for i in range(3)]
    boxes = [arc.ann, arc.info, *(Box(m.id, m.primary_address) for m in extra)]
    items = {b.id: set(arc.put(b, [message(i, subject=f"report {b.address}") for i in range(2)])) for b in boxes}
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    path = index_dir(arc.db_dir, arc.archive.org_id)  # type: ignore[arg-type]
    known = read_state(path)
    assert known is not None and known.mailboxes is not None and len(known.mailboxes) == 5

    most = {b.id for b in boxes} - {arc.info.id}  # four of five: the clause excludes info@
    every = {b.id for b in boxes}
    expected_most = set().union(*(items[b] for b in most))
    for q in ("", "report", '"report team0"', "report OR nothing"):
        with_exclusion = found(arc, most, q)
        write_state(path, replace(known, mailboxes=None))  # as an index that never recorded its mailboxes
        with_term_set = found(arc, most, q)
        write_state(path, known)
        assert with_exclusion == with_term_set
        assert not with_exclusion & items[arc.info.id]
    assert found(arc, most) == expected_most
    assert found(arc, every) == set().union(*items.values())



def test_a_new_mailbox_is_recorded_before_its_documents_are_committed(arc: Archive, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Readers take their searcher, then read state.json: a mailbox must be listed there before
    a commit makes its documents visible, or a clause excluding the unreadable would miss it."""
    import mailark.catalog.search.indexer as indexer

    arc.put(arc.ann, [message(1)])
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    path = index_dir(arc.db_dir, arc.archive.org_id)  # type: ignore[arg-type]
    listed_at_commit: list[list[str] | None] = []

    class Writer:
        def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
            self.inner = inner

        def commit(self) -> None:
            listed_at_commit.append(read_state(path).mailboxes)  # type: ignore[union-attr]
            self.inner.commit()

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self.inner, name)

    class Index:
        def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
            self.inner = inner

        def writer(self, **kw):  # type: ignore[no-untyped-def]
            return Writer(self.inner.writer(**kw))

    real_open = indexer.open_index
    monkeypatch.setattr(indexer, "open_index", lambda p, **kw: Index(real_open(p, **kw)))
    arc.put(arc.info, [message(2)])
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    assert listed_at_commit == [sorted({arc.ann.id, arc.info.id})]
