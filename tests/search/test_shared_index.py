"""Two homes over one object store, control plane and catalogue, each with its own db/ (search.shared):
what A indexes, B finds; the index in the store is ciphertext; deleting the organization removes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailark.catalog.search import shipping
from mailark.catalog.search.indexer import sync_index
from mailark.catalog.search.searcher import IndexCache, search
from mailark.config.settings import Settings
from mailark.runtime import Runtime, open_runtime
from tests.search.conftest import Archive
from tests.search.mails import message

WORD = "zanzibarquokka"


def _shared(settings: Settings, home: Path) -> Settings:
    return settings.model_copy(update={"home": home, "search": settings.search.model_copy(
        update={"shared": True, "refresh_seconds": 0.0})})


@pytest.fixture(params=["local", "s3"])
def two(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    base: Settings = request.getfixturevalue("s3_home" if request.param == "s3" else "home")
    a_db = base.db_dir
    common = {"control_url": f"sqlite:///{a_db / 'control.sqlite'}", "lake_catalog": f"sqlite:{a_db / 'lake.sqlite'}",
              "master_key_file": a_db / "master.key"}
    a = open_runtime(_shared(base, base.home).model_copy(update=common))
    home_b = tmp_path / "b"
    home_b.mkdir()
    if request.param == "local":
        base.objects_dir.mkdir(parents=True, exist_ok=True)
        (home_b / "objects").symlink_to(base.objects_dir)
    b = open_runtime(_shared(base, home_b).model_copy(update=common))
    yield a, b
    for r in (a, b):
        r.close()
        shipping.registry.unregister(r.settings.db_dir)


def _arc(rt: Runtime) -> Archive:
    from mailark.control.orgs import create_org, ensure_mailbox

    with rt.session() as s:
        org, _ = create_org(s, "acme", rt.master_key)
        ann, _ = ensure_mailbox(s, org, "ann@acme.example")
        info, _ = ensure_mailbox(s, org, "info@acme.example")
        from tests.search.conftest import Box
        return Archive(rt.archive_for(org), Box(ann.id, ann.primary_address), Box(info.id, info.primary_address),
                       rt.settings.db_dir)


def _hits(rt: Runtime, arc: Archive, q: str, cache: IndexCache) -> list[str]:
    page = search(rt.settings.db_dir, arc.archive.org_id, q, {arc.ann.id, arc.info.id}, per_page=100, cache=cache)
    return [h.item_id for h in page.hits]


def test_b_finds_what_a_indexed(two: tuple[Runtime, Runtime]) -> None:
    a, b = two
    arc = _arc(a)
    first = arc.put(arc.ann, [message(i, body=f"report {WORD} {i}" if i % 2 else f"other {i}") for i in range(6)])
    sync_index(arc.archive, a.settings.db_dir)
    assert not (b.settings.db_dir / "search" / arc.archive.org_id).exists()
    ca, cb = IndexCache(), IndexCache()
    for q in (WORD, "report", "from:ann", "other"):
        assert _hits(b, arc, q, cb) == _hits(a, arc, q, ca) != [], q  # a cold B: identical, first query
    assert len(_hits(b, arc, WORD, cb)) == 3

    more = arc.put(arc.info, [message(100 + i, subject=f"later {WORD}") for i in range(2)])
    sync_index(arc.archive, a.settings.db_dir)
    got = set(_hits(b, arc, WORD, cb))  # the warm B refreshes (refresh_seconds 0) and sees the new ones
    assert set(more) <= got and len(got) == 5 and got <= set(first) | set(more)
    assert _hits(b, arc, WORD, cb) == _hits(a, arc, WORD, ca)

    # the index in the store is ciphertext, under the organization's prefix
    names = [i.name for i in a.store.list(shipping.prefix(arc.archive.org_id))]
    assert any("/gens/" in n for n in names) and any("/files/" in n for n in names)
    for n in names:
        data = a.store.get(n)
        for plain in (WORD.encode(), b"ann@acme.example", b"item_id", b"segments", b"subject"):
            assert plain not in data, (n, plain)


def test_b_writes_after_a_and_a_sees_it(two: tuple[Runtime, Runtime]) -> None:
    """The writer may move: B starts from A's published generation rather than from nothing."""
    a, b = two
    arc = _arc(a)
    arc.put(arc.ann, [message(i, body=f"{WORD} {i}") for i in range(3)])
    sync_index(arc.archive, a.settings.db_dir)
    arc.put(arc.ann, [message(10 + i, body=f"{WORD} late {i}") for i in range(2)])
    run = sync_index(arc.archive, b.settings.db_dir)  # B pulls A's generation, then indexes only the new
    assert run.mode == "incremental" and run.indexed == 2
    assert len(_hits(a, arc, WORD, IndexCache())) == 5


def test_org_deletion_removes_the_shared_index(two: tuple[Runtime, Runtime]) -> None:
    from mailark.control.principals import Principal
    from mailark.operations.offboarding import delete_organization

    a, b = two
    arc = _arc(a)
    arc.put(arc.ann, [message(1, body=WORD)])
    sync_index(arc.archive, a.settings.db_dir)
    assert _hits(b, arc, WORD, IndexCache())
    assert list(a.store.list(shipping.prefix(arc.archive.org_id)))
    delete_organization(a, Principal.deployment_operator(), "acme", confirm="acme", now=True, reason="test of the shared index")
    assert not list(a.store.list(shipping.prefix(arc.archive.org_id)))
    assert not (a.settings.db_dir / "search" / arc.archive.org_id).exists()
    assert _hits(b, arc, WORD, IndexCache()) == []  # B's copy goes with the shared index
    assert not (b.settings.db_dir / "search" / arc.archive.org_id).exists()


def test_an_index_in_parts_travels_whole(two: tuple[Runtime, Runtime]) -> None:
    """A large organization's index is written as parts (subdirectories): B gets every part's files,
    then A's next run reaches B with only what changed."""
    from mailark.catalog.search.index import part_paths, read_state
    from mailark.catalog.search.indexer import IndexOptions

    a, b = two
    arc = _arc(a)
    parts = IndexOptions(part_documents=3, max_parts=2)
    arc.put(arc.ann, [message(i, body=f"{WORD} {i}") for i in range(8)])
    sync_index(arc.archive, a.settings.db_dir, parts)
    cb = IndexCache()
    assert len(_hits(b, arc, WORD, cb)) == 8
    b_path = b.settings.db_dir / "search" / arc.archive.org_id
    assert read_state(b_path).parts == 2  # type: ignore[union-attr]
    assert all((p / "meta.json").is_file() for p in part_paths(b_path, 2))
    arc.put(arc.info, [message(50 + i, body=f"{WORD} more {i}") for i in range(3)])
    sync_index(arc.archive, a.settings.db_dir, parts)
    assert len(_hits(b, arc, WORD, cb)) == 11
    assert _hits(b, arc, WORD, cb) == _hits(a, arc, WORD, IndexCache())


@pytest.mark.parametrize("name", ["../x", "part-0/../../x", "/etc/passwd", "a/b", "part-x/meta.json", "part-0/a/b"])
def test_a_manifest_cannot_place_a_file_outside_the_index(tmp_path: Path, name: str) -> None:
    with pytest.raises(shipping.ShippedIndexError, match="outside the index"):
        shipping._placed(tmp_path, name)
    assert shipping._placed(tmp_path, "part-1/meta.json") == tmp_path / "part-1" / "meta.json"
