"""Indexing archived copies and searching them: fields, operators, order, paging, permissions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailark.catalog.search.index import index_dir, read_state
from mailark.catalog.search.indexer import sync_index
from mailark.catalog.search.searcher import IndexCache, search
from tests.search.conftest import Archive
from tests.search.mails import DOCX, PDF, XLSX, docx_with, message, pdf_with, xlsx_with


@pytest.fixture
def indexed(arc: Archive) -> Archive:
    arc.put(arc.ann, [
        message(1, subject="Quarterly report for the board", body="The figures look strong this quarter.",
                date=datetime(2024, 1, 10, tzinfo=UTC)),
        message(2, sender="Carol Chen <carol@partner.example>", to="ann@acme.example", cc="Dave <dave@acme.example>",
                subject="Lunch on Friday", body="Shall we meet at noon?", date=datetime(2024, 2, 5, tzinfo=UTC)),
        message(3, subject="Contract draft", body="See the attached draft.", date=datetime(2024, 3, 1, tzinfo=UTC),
                attachments=[("contract-v2.pdf", PDF, pdf_with("Indemnification clause for Zanzibar shipping"))]),
        message(4, subject="Newsletter", html="<html><head><style>p{color:red}</style></head><body><p>Spring "
                "<b>sale</b> on umbrellas</p><script>var hidden='scripttoken';</script></body></html>",
                date=datetime(2024, 4, 2, tzinfo=UTC)),
    ])
    arc.put(arc.ann, [message(5, subject="Project kickoff", body="Kickoff notes.", date=datetime(2024, 5, 1, tzinfo=UTC),
                              attachments=[("notes.docx", DOCX, docx_with("Milestones for project Halcyon")),
                                           ("budget.xlsx", XLSX, xlsx_with("Budget line", "Quetzal consulting"))])],
            folder="Projects/Halcyon")
    arc.put(arc.info, [message(6, subject="Quarterly report for customers", body="Public figures.",
                               date=datetime(2024, 6, 1, tzinfo=UTC))])
    run = sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    assert run.mode == "rebuild" and run.indexed == 6 and not run.text_failures
    return arc


def subjects(arc: Archive, q: str, boxes: set[str] | None = None, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    allowed = boxes if boxes is not None else {arc.ann.id, arc.info.id}
    page = search(arc.db_dir, arc.archive.org_id, q, allowed, cache=IndexCache(), **kw)  # type: ignore[arg-type]
    return [h.subject for h in page.hits]


def test_fields_words_phrases_and_operators(indexed: Archive) -> None:
    a = indexed
    assert subjects(a, "quarterly") == ["Quarterly report for customers", "Quarterly report for the board"]
    assert subjects(a, '"report for the board"') == ["Quarterly report for the board"]
    assert subjects(a, '"board report"') == []  # a phrase is words in order
    assert subjects(a, "from:carol") == ["Lunch on Friday"]
    assert subjects(a, "from:carol@partner.example") == ["Lunch on Friday"]
    assert subjects(a, "from:partner.example") == ["Lunch on Friday"]
    assert subjects(a, "from:chen") == ["Lunch on Friday"]  # display names are searchable
    assert subjects(a, "cc:dave") == ["Lunch on Friday"]
    assert subjects(a, "to:bob@acme.example subject:contract") == ["Contract draft"]
    assert subjects(a, "has:attachment") == ["Project kickoff", "Contract draft"]
    assert subjects(a, "filename:contract-v2.pdf") == ["Contract draft"]
    assert subjects(a, "filename:budget") == ["Project kickoff"]
    assert subjects(a, "folder:projects") == ["Project kickoff"]  # a folder finds its subfolders
    assert subjects(a, "folder:Projects/Halcyon") == ["Project kickoff"]
    assert subjects(a, "mailbox:info@acme.example") == ["Quarterly report for customers"]
    assert subjects(a, "after:2024-02-05 before:2024-04-02") == ["Contract draft", "Lunch on Friday"]
    assert subjects(a, "quarterly OR lunch") == ["Quarterly report for customers", "Lunch on Friday",
                                                 "Quarterly report for the board"]
    assert subjects(a, "quarterly -customers") == ["Quarterly report for the board"]
    assert subjects(a, "quarterly AND NOT board") == ["Quarterly report for customers"]
    assert subjects(a, "(lunch OR kickoff) has:attachment") == ["Project kickoff"]
    assert subjects(a, "NOT quarterly has:attachment") == ["Project kickoff", "Contract draft"]


def test_body_html_and_attachment_text(indexed: Archive) -> None:
    a = indexed
    assert subjects(a, "umbrellas") == ["Newsletter"]  # text from the HTML body
    assert subjects(a, "scripttoken") == [] and subjects(a, "color") == []  # scripts and styles are not text
    assert subjects(a, "zanzibar indemnification") == ["Contract draft"]  # PDF text
    assert subjects(a, "halcyon milestones") == ["Project kickoff"]  # DOCX text
    assert subjects(a, "quetzal") == ["Project kickoff"]  # XLSX text
    assert subjects(a, "GRÜSSE") == []  # folding does not crash on umlauts


def test_permissions_are_part_of_the_query(indexed: Archive) -> None:
    a = indexed
    assert subjects(a, "quarterly", {a.ann.id}) == ["Quarterly report for the board"]
    assert subjects(a, "mailbox:info@acme.example", {a.ann.id}) == []
    assert subjects(a, "", {a.info.id}) == ["Quarterly report for customers"]
    assert subjects(a, "quarterly", set()) == []
    # a mailbox filter narrows, never widens
    page = search(a.db_dir, a.archive.org_id, "quarterly", {a.ann.id}, mailbox_ids={a.info.id})  # type: ignore[arg-type]
    assert page.total == 0


def test_order_and_paging(indexed: Archive) -> None:
    a = indexed
    newest = subjects(a, "")
    assert len(newest) == 6 and newest[0] == "Quarterly report for customers" and newest[-1] == "Quarterly report for the board"
    assert subjects(a, "", sort="oldest") == list(reversed(newest))
    rel = search(a.db_dir, a.archive.org_id, "quarterly board", {a.ann.id, a.info.id}, sort="relevance")  # type: ignore[arg-type]
    assert rel.hits[0].subject == "Quarterly report for the board" and rel.hits[0].score
    pages = [search(a.db_dir, a.archive.org_id, "", {a.ann.id, a.info.id}, page=p, per_page=4) for p in (1, 2)]  # type: ignore[arg-type]
    assert [p.total for p in pages] == [6, 6] and [len(p.hits) for p in pages] == [4, 2]
    assert [h.subject for p in pages for h in p.hits] == newest
    hit = pages[0].hits[0]
    assert hit.mailbox == "info@acme.example" and hit.folder == "INBOX" and hit.sender == "Ann Archer <ann@acme.example>"
    assert hit.date == datetime(2024, 6, 1, tzinfo=UTC)


def test_the_index_lives_in_the_key_room(indexed: Archive) -> None:
    path = index_dir(indexed.db_dir, indexed.archive.org_id)  # type: ignore[arg-type]
    assert path.is_relative_to(indexed.db_dir) and (path / "meta.json").is_file()  # type: ignore[arg-type]
    assert oct(path.stat().st_mode & 0o777) == "0o700"
    assert not any("search" in o.name for o in indexed.archive.store.list(""))
    assert read_state(path).snapshot > 0  # type: ignore[union-attr]


def test_no_index_yet_is_an_empty_page(arc: Archive) -> None:
    page = search(arc.db_dir, arc.archive.org_id, "anything", {arc.ann.id})  # type: ignore[arg-type]
    assert page.ready is False and page.total == 0


def test_every_match_of_a_search_for_an_export(indexed: Archive) -> None:
    from mailark.catalog.search.query import QueryError
    from mailark.catalog.search.searcher import matching_item_ids

    a = indexed
    both = {a.ann.id, a.info.id}
    ids = matching_item_ids(a.db_dir, a.archive.org_id, "quarterly", both)  # type: ignore[arg-type]
    page = search(a.db_dir, a.archive.org_id, "quarterly", both, cache=IndexCache())  # type: ignore[arg-type]
    assert ids == [h.item_id for h in page.hits] and len(ids) == 2
    assert matching_item_ids(a.db_dir, a.archive.org_id, "quarterly", {a.ann.id}) == ids[1:]  # type: ignore[arg-type]
    assert len(matching_item_ids(a.db_dir, a.archive.org_id, "", both)) == 6  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="more than 3"):
        matching_item_ids(a.db_dir, a.archive.org_id, "", both, limit=3)  # type: ignore[arg-type]


def test_whole_organization_readers_need_no_mailbox_clause(indexed: Archive) -> None:
    a = indexed
    page = search(a.db_dir, a.archive.org_id, "quarterly", set(), every_mailbox=True, cache=IndexCache())  # type: ignore[arg-type]
    assert page.total == 2
    assert subjects(a, '"quarterly report"', None) == subjects(a, '"quarterly report"', set(), every_mailbox=True)
    # a mailbox filter still narrows it
    page = search(a.db_dir, a.archive.org_id, "quarterly", {a.info.id}, mailbox_ids={a.info.id}, every_mailbox=True)  # type: ignore[arg-type]
    assert [h.subject for h in page.hits] == ["Quarterly report for customers"]


def test_who_reads_every_mailbox_by_rule(rt, org) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.identity import create_user
    from mailark.control.principals import Principal, user_principal
    from mailark.control.reading import reads_every_mailbox

    op = Principal.deployment_operator()
    with rt.session() as s:
        reader = create_user(s, op, org, "rita@acme", password="pw-rita-long-enough", roles=("Reader",)).user
        officer = create_user(s, op, org, "cora@acme", password="pw-cora-long-enough", roles=("Compliance",)).user
        o = s.merge(org)
        assert reads_every_mailbox(s, op, o)
        assert reads_every_mailbox(s, user_principal(officer), o)
        assert not reads_every_mailbox(s, user_principal(reader), o)
        other = Principal("operator", "x", "tech", org_ids=frozenset({"another-org"}))
        assert not reads_every_mailbox(s, other, o)
