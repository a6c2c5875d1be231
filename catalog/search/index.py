"""The per-organization index: its schema, its tokenizers, and the one writer it may have.

The index holds message text, so it lives with the service's databases in
`$MAILARK_HOME/db/search/<org_id>/` (the key room, an encrypted volume in production), never in the
object store. Writing goes through `writing()`, which holds a file lock per organization
(`db/locks/search-<org_id>.lock`): the indexing flow, a rebuild and the CLI never write at once.

`state.json` beside the segments records the catalogue snapshot the index reflects (the
watermark of incremental indexing), a generation that changes when the index is rebuilt, so
readers holding an old `Index` open know to reopen it, and every mailbox id the index has ever
held documents of (written before the documents become visible), so a principal who reads most
mailboxes can be limited by the few it may not read.

A large organization's index is written as *parts* (`state.parts`, chosen at a rebuild from its
number of copies): tantivy indexes in `part-0/`, `part-1/`, ... each holding the copies whose item
id hashes to it. tantivy searches one index on one core, and the exact total of a broad query
visits every match; parts are searched at once, one per core (catalog/search/searcher.py). One
part is the directory itself, as every index written before parts.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path

import tantivy
from tantivy import Filter, TextAnalyzerBuilder, Tokenizer

from mailark.catalog.lanes import file_lane

SCHEMA_VERSION = 2  # 2: the `pairs` field (an index of version 1 is searched without it, then rebuilt)
PAIRS_SINCE = 2
STATE_FILE = "state.json"

# Text fields searched by bare words (and their weight for relevance).
TEXT_FIELDS: dict[str, float] = {
    "subject": 3.0, "from": 2.0, "to": 1.5, "cc": 1.0, "bcc": 1.0, "filename": 1.5, "body": 1.0, "attachment_text": 0.5,
}


def _mail_analyzer() -> tantivy.TextAnalyzer:
    # Words of any script; long tokens (base64 junk, hashes) dropped; "Grüße" matches "grusse" and "grüße".
    return (TextAnalyzerBuilder(Tokenizer.simple()).filter(Filter.remove_long(40))
            .filter(Filter.lowercase()).filter(Filter.ascii_fold()).build())


def _keyword_analyzer() -> tantivy.TextAnalyzer:
    return TextAnalyzerBuilder(Tokenizer.raw()).filter(Filter.lowercase()).build()


MAIL = _mail_analyzer()
KEYWORD = _keyword_analyzer()
PAIRS = TextAnalyzerBuilder(Tokenizer.whitespace()).build()  # the terms are made by `word_pairs`

# Long text whose phrases also get a `pairs` term per two adjacent words. A phrase of common words
# ("status update") is checked position by position in every document holding both words (a quarter
# of a million in the 1M bench: 27 ms); the pair terms find the few documents that can hold the
# phrase first, and the phrase is still checked in those, so the hits are exactly the same.
PAIRED_FIELDS = ("body", "attachment_text")


def pair_terms(words: list[str]) -> list[str]:
    """The `pairs` terms of adjacent analysed words (MAIL's tokens are letters and digits only, so
    "_" cannot occur in a word and two different pairs never make the same term)."""
    return [f"{a}_{b}" for a, b in pairwise(words)]


def word_pairs(text: str) -> str:
    """The `pairs` field's text for a paired field's value: every two words adjacent in MAIL's token
    stream (a long token MAIL drops leaves a gap a phrase cannot span; the pair over it is harmless)."""
    return " ".join(pair_terms([str(t) for t in MAIL.analyze(text)]))


def add_text(doc: tantivy.Document, field: str, text: str) -> None:
    """Add a text field's value to a document, with its pairs when the field is one of PAIRED_FIELDS
    (what the query side expects of every document of a schema-2 index)."""
    doc.add_text(field, text)
    if field in PAIRED_FIELDS:
        doc.add_text("pairs", word_pairs(text))


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    # identity and filters: exact terms (raw ids; lower-cased keywords)
    sb.add_text_field("item_id", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("mailbox_id", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("mailbox", stored=True, tokenizer_name="keyword", index_option="basic")
    # the folder path first, then its ancestors, so `folder:Projects` also finds Projects/2024
    sb.add_text_field("folder", stored=True, tokenizer_name="keyword", index_option="basic")
    sb.add_text_field("has", stored=False, tokenizer_name="keyword", index_option="basic")
    sb.add_integer_field("ts", stored=True, indexed=True, fast=True)  # message date (else archived at), epoch s
    sb.add_integer_field("size", stored=True)
    # text: positions kept for "phrases" and address look-ups (ann@acme.com is the phrase ann acme com)
    for name in TEXT_FIELDS:
        stored = name in ("subject", "from")
        sb.add_text_field(name, stored=stored, tokenizer_name="mail", index_option="position")
    sb.add_text_field("from_display", stored=True, tokenizer_name="raw", index_option="basic")
    # last, so that every other field keeps its number in an index of schema version 1
    sb.add_text_field("pairs", stored=False, tokenizer_name="pairs", index_option="basic")
    return sb.build()


SCHEMA = build_schema()


def index_dir(db_dir: Path, org_id: str) -> Path:
    return db_dir / "search" / org_id


@dataclass
class IndexState:
    snapshot: int = -1  # catalogue snapshot reflected; -1: nothing indexed yet
    generation: str = ""
    schema_version: int = SCHEMA_VERSION
    # Every mailbox id with documents in the index, ever; None: not known (an index written before
    # this was recorded), so searches keep to a term set of the readable mailboxes.
    mailboxes: list[str] | None = field(default=None)
    parts: int = 1  # tantivy indexes the documents are spread over (`part_paths`)


def read_state(path: Path) -> IndexState | None:
    try:
        data = json.loads((path / STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return IndexState(**{k: data[k] for k in ("snapshot", "generation", "schema_version", "mailboxes", "parts") if k in data})


def write_state(path: Path, state: IndexState) -> None:
    tmp = path / (STATE_FILE + ".tmp")
    with open(tmp, "w") as f:
        json.dump(asdict(state), f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path / STATE_FILE)


def open_index(path: Path, *, create: bool = False) -> tantivy.Index:
    """The index at `path` with our tokenizers registered; created empty when `create`."""
    if create:
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        idx = tantivy.Index(SCHEMA, path=str(path), reuse=True)
    else:
        idx = tantivy.Index.open(str(path))
    idx.register_tokenizer("mail", MAIL)
    idx.register_tokenizer("keyword", KEYWORD)
    idx.register_tokenizer("pairs", PAIRS)
    return idx


def exists(path: Path, state: IndexState | None = None) -> bool:
    """Whether the index at `path` is whole: its state.json and every part it names (`state`: that
    state.json, already read). An index with a part missing is as good as none: searches say it is
    not ready, and the next indexing run rebuilds it."""
    state = state or read_state(path)
    return state is not None and all(p.is_dir() and tantivy.Index.exists(str(p)) for p in part_paths(path, state.parts))


def part_paths(path: Path, parts: int) -> list[Path]:
    """Where each part's tantivy index lives: the index directory itself when there is one part."""
    return [path] if parts <= 1 else [path / f"part-{i}" for i in range(parts)]


def part_of(item_id: str, parts: int) -> int:
    """The part a copy's document lives in (a stable hash: an incremental run finds it again)."""
    return zlib.crc32(item_id.encode()) % parts if parts > 1 else 0


def parts_for(documents: int, part_documents: int, max_parts: int) -> int:
    """How many parts an index of `documents` is written as: one per `part_documents`, at most
    `max_parts` (0: one per core). Below a few hundred thousand documents one part is best: a
    search of a part costs a fixed ~0.1 ms, and relevance uses each part's own word statistics,
    which match the whole index's only when every part holds many documents."""
    most = max_parts or os.cpu_count() or 1
    return max(1, min(most, documents // max(part_documents, 1)))


@contextmanager
def writing(db_dir: Path, org_id: str) -> Iterator[None]:
    """The organization's single-writer lane for its index (one machine: a file lock in db/locks)."""
    with file_lane(db_dir / "locks", f"search-{org_id}"):
        yield


def drop_index(db_dir: Path, org_id: str) -> bool:
    """Delete the organization's index (with the organization); True if there was one."""
    path = index_dir(db_dir, org_id)
    with writing(db_dir, org_id):
        if not path.exists():
            return False
        shutil.rmtree(path)
    (db_dir / "locks" / f"search-{org_id}.lock").unlink(missing_ok=True)
    return True
