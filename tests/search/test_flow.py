"""The index-mail flow under a real Prefect server (the test harness)."""

from __future__ import annotations


from mailark.catalog.deletion import delete_copies
from mailark.catalog.search.index import index_dir
from mailark.catalog.search.indexer import documents_in
from tests.search.conftest import Archive
from tests.search.mails import message


def test_index_mail_follows_ingest_and_deletions(prefect_api, arc: Archive) -> None:  # type: ignore[no-untyped-def]
    from mailark.flows.search_index import index_mail
    from tests.flows.test_import_flow import _flow_runs

    items = arc.put(arc.ann, [message(i, subject=f"flow {i}") for i in range(3)])
    first = index_mail(org="acme")
    assert [(r["org"], r["mode"], r["indexed"]) for r in first] == [("acme", "rebuild", 3)]
    path = index_dir(arc.db_dir, arc.archive.org_id)  # type: ignore[arg-type]
    assert documents_in(path) == 3

    arc.put(arc.info, [message(9, subject="later")])
    delete_copies(arc.archive, items[:1])
    second = index_mail()  # every organization
    assert [(r["mode"], r["indexed"], r["deleted"]) for r in second] == [("incremental", 1, 1)]
    assert documents_in(path) == 3
    assert index_mail(org="acme", rebuild=True)[0]["mode"] == "rebuild"

    runs = sorted(_flow_runs("index-mail"), key=lambda r: r.created)
    assert [r.state.is_completed() for r in runs] == [True, True, True]
    assert [r.name for r in runs] == ["index mail of acme", "index mail of every organization", "rebuild the index of acme"]
