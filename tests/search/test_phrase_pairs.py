"""Phrases in long text are narrowed by the `pairs` field first (schema version 2): the hits and
their scores must be exactly what the phrase alone finds, whatever stands between the words, and an
index written before the field existed must still answer phrases until it is rebuilt."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import tantivy

from mailark.catalog.search.index import (
    KEYWORD,
    MAIL,
    PAIRED_FIELDS,
    SCHEMA_VERSION,
    TEXT_FIELDS,
    add_text,
    index_dir,
    open_index,
    read_state,
    word_pairs,
    write_state,
)
from mailark.catalog.search.indexer import sync_index
from mailark.catalog.search.query import compile_query
from mailark.catalog.search.searcher import IndexCache, search
from tests.search.conftest import Archive
from tests.search.mails import message

LONG = "x" * 45  # longer than MAIL keeps (remove_long(40))

# What may stand between two words of a phrase in real mail, and what must not match.
BODIES = [
    "The status update is attached.",
    "status,update without a space",
    "STATUS\n\n  Update across lines",
    "status-update with a hyphen",
    "statusupdate written as one word",
    "update status in the other order",
    f"status {LONG} update around a dropped long token",
    "Grüße aus Köln und Status-Update",
    "grusse aus koln",
    "status update status update twice, and the quarterly status update report",
    "the quarterly status report update",
    "日本語 status 日本語 update",
    "status\tupdate\ttabs",
    "",
]
ATTACHMENTS = ["", "quarterly status update report in the attachment", "Grüße aus Köln", "report quarterly"]
PHRASES = ['"status update"', '"quarterly status update report"', '"grüße aus köln"', '"grusse aus"',
           '"status update" -"update report"', '"status update" OR "report update"', 'body:"status update"',
           '"update status"', '"status x update"', f'"status {LONG} update"', '"aus köln und status"']


def _docs(pairs: bool) -> list[tantivy.Document]:
    docs = []
    for n, body in enumerate(BODIES):
        d = tantivy.Document()
        d.add_text("item_id", f"i{n}")
        d.add_text("mailbox_id", "mb")
        d.add_integer("ts", 1_700_000_000 + n)
        d.add_text("subject", f"message {n}")
        attachment = ATTACHMENTS[n % len(ATTACHMENTS)]
        for field, text in (("body", body), ("attachment_text", attachment)):
            if text:
                if pairs:
                    add_text(d, field, text)  # as the indexer does
                else:
                    d.add_text(field, text)
        docs.append(d)
    return docs


def _index(path: Path, docs: list[tantivy.Document]) -> tantivy.Searcher:
    idx = open_index(path, create=True)
    w = idx.writer(heap_size=15_000_000, num_threads=1)
    for d in docs:
        w.add_document(d)
    w.commit()
    w.wait_merging_threads()
    idx.reload()
    return idx.searcher()


def _hits(s: tantivy.Searcher, q: str, pairs: bool) -> list[tuple[str, float]]:
    res = s.search(compile_query(q, {"mb"}, pairs=pairs), limit=100)
    return sorted((s.doc(a)["item_id"][0], round(score, 5)) for score, a in res.hits)


def test_pairs_find_exactly_what_the_phrase_alone_finds_with_the_same_scores(tmp_path: Path) -> None:
    s = _index(tmp_path / "ix", _docs(pairs=True))
    for q in PHRASES:
        assert _hits(s, q, pairs=True) == _hits(s, q, pairs=False), q
    assert {i for i, _ in _hits(s, '"status update"', pairs=True)} == {"i0", "i1", "i2", "i3", "i7", "i9", "i12"} | {
        f"i{n}" for n in range(len(BODIES)) if "status update" in ATTACHMENTS[n % len(ATTACHMENTS)]}


def test_the_pairs_are_what_narrows_the_phrase(tmp_path: Path) -> None:
    """Documents indexed without their pairs are not found by a query that uses them: the field is
    really consulted (were it not, the speed-up would be nil and the equality above trivial)."""
    s = _index(tmp_path / "ix", _docs(pairs=False))
    assert _hits(s, '"status update"', pairs=False)
    assert _hits(s, '"status update"', pairs=True) == []
    assert _hits(s, "status", pairs=True) == _hits(s, "status", pairs=False)  # one word: no pair


def test_pair_terms_follow_the_mail_analyzer() -> None:
    assert word_pairs("Grüße aus KÖLN, bitte") == "grusse_aus aus_koln koln_bitte"
    assert word_pairs("one") == "" and word_pairs("") == ""
    assert set(PAIRED_FIELDS) <= set(TEXT_FIELDS)
    assert all("_" not in str(t) for t in MAIL.analyze("snake_case a_b __init__"))  # "_" never inside a word


def _schema_version_1() -> tantivy.Schema:
    """The schema before `pairs` (SCHEMA without its last field)."""
    sb = tantivy.SchemaBuilder()
    for name in ("item_id", "mailbox_id"):
        sb.add_text_field(name, stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("mailbox", stored=True, tokenizer_name="keyword", index_option="basic")
    sb.add_text_field("folder", stored=True, tokenizer_name="keyword", index_option="basic")
    sb.add_text_field("has", stored=False, tokenizer_name="keyword", index_option="basic")
    sb.add_integer_field("ts", stored=True, indexed=True, fast=True)
    sb.add_integer_field("size", stored=True)
    for name in TEXT_FIELDS:
        sb.add_text_field(name, stored=name in ("subject", "from"), tokenizer_name="mail", index_option="position")
    sb.add_text_field("from_display", stored=True, tokenizer_name="raw", index_option="basic")
    return sb.build()


def test_an_index_of_schema_version_1_answers_phrases_and_is_rebuilt(arc: Archive) -> None:
    assert SCHEMA_VERSION >= 2
    ids = arc.put(arc.ann, [message(1, body="The status update is attached."), message(2, body="update status")])
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    path = index_dir(arc.db_dir, arc.archive.org_id)  # type: ignore[arg-type]
    state = read_state(path)
    assert state is not None and state.schema_version == SCHEMA_VERSION

    # The same copies in an index as the previous release wrote it: its own schema, no pairs.
    for f in path.iterdir():
        if f.name != "state.json":
            f.unlink()
    old = tantivy.Index(_schema_version_1(), path=str(path), reuse=False)
    old.register_tokenizer("mail", MAIL)
    old.register_tokenizer("keyword", KEYWORD)
    w = old.writer(heap_size=15_000_000, num_threads=1)
    for n, item in enumerate(ids):
        d = tantivy.Document()
        d.add_text("item_id", item)
        d.add_text("mailbox_id", arc.ann.id)
        d.add_integer("ts", 1_700_000_000 + n)
        d.add_text("body", ["The status update is attached.", "update status"][n])
        w.add_document(d)
    w.commit()
    w.wait_merging_threads()
    write_state(path, replace(state, schema_version=1, generation=state.generation + "-v1"))

    page = search(arc.db_dir, arc.archive.org_id, '"status update"', {arc.ann.id}, cache=IndexCache())  # type: ignore[arg-type]
    assert [h.item_id for h in page.hits] == [ids[0]]  # searched without the pairs it does not have

    run = sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    assert run.mode == "rebuild"
    assert read_state(path).schema_version == SCHEMA_VERSION  # type: ignore[union-attr]
    page = search(arc.db_dir, arc.archive.org_id, '"status update"', {arc.ann.id}, cache=IndexCache())  # type: ignore[arg-type]
    assert [h.item_id for h in page.hits] == [ids[0]]


@pytest.mark.parametrize("q", ['"status update"', 'body:"status update"'])
def test_the_pipeline_indexes_pairs(arc: Archive, q: str) -> None:
    """Through ingest and the indexer: the phrase is found with the pairs in use (a copy indexed
    without them would not be, see above)."""
    ids = arc.put(arc.ann, [message(1, body="Weekly status\nupdate, as promised."), message(2, body="status only")])
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    state = read_state(index_dir(arc.db_dir, arc.archive.org_id))  # type: ignore[arg-type]
    assert state is not None and state.schema_version == SCHEMA_VERSION
    page = search(arc.db_dir, arc.archive.org_id, q, {arc.ann.id}, cache=IndexCache())  # type: ignore[arg-type]
    assert [h.item_id for h in page.hits] == [ids[0]]
