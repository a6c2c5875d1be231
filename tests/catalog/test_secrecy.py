"""Nothing of a message is readable in objects/ or logs/, and message text stays out of db/."""

from __future__ import annotations

from pathlib import Path

from mailark.sources.files.importing import run_import


def _needles(rt, org) -> tuple[list[bytes], list[bytes]]:  # type: ignore[no-untyped-def]
    """Subjects and body snippets of what was archived (taken from the archive itself)."""
    subjects = [
        r[0].encode() for r in rt.lake.execute(
            "SELECT DISTINCT subject FROM lake.messages WHERE org_id = ? AND length(subject) >= 16 "
            "AND regexp_matches(subject, '^[ -~]+$') ORDER BY subject LIMIT 60", [org.id]
        ).fetchall()
    ]
    reader = rt.archive_for(org).reader()
    bodies: list[bytes] = []
    for sk, d, sha in rt.lake.execute(
        "SELECT m.skeleton_ref, i.delta_ref, i.copy_sha256 FROM lake.mailbox_items i JOIN lake.messages m "
        "USING (org_id, message_key) WHERE i.org_id = ? ORDER BY i.copy_sha256 LIMIT 60", [org.id]
    ).fetchall():
        raw = reader.rebuild(sk, d, sha)
        body = raw.split(b"\n\n", 1)[-1].split(b"\r\n\r\n", 1)[-1]
        lines = [ln.strip() for ln in body.splitlines() if len(ln.strip()) >= 24 and ln.strip().isascii()]
        if lines:
            bodies.append(lines[len(lines) // 2][:40])
    return subjects, bodies


def test_nothing_readable_at_rest(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_import(rt, "acme", "a@acme", [corpus])
    assert result.counts.archived > 1000
    subjects, bodies = _needles(rt, org)
    assert len(subjects) >= 40 and len(bodies) >= 30
    # the search index shared through the object store (search.shared) is at rest there too
    from mailark.catalog.search import shipping
    from mailark.catalog.search.indexer import sync_index

    shipping.registry.register(rt.settings.db_dir, lambda: rt.store, rt._search_shelf, 10.0)
    try:
        sync_index(rt.archive_for(org), rt.settings.db_dir)
    finally:
        shipping.registry.unregister(rt.settings.db_dir)
    assert any("/search/files/" in i.name for i in rt.store.list(shipping.prefix(org.id)))
    home = rt.settings.home
    (home / "logs").mkdir(exist_ok=True)
    at_rest = [p for d in ("objects", "logs") for p in (home / d).rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in at_rest)
    for p in at_rest:
        data = p.read_bytes()
        for needle in subjects + bodies:
            assert needle not in data, f"{needle!r} readable in {p}"
    # db/ (the key room) holds metadata and column statistics, but no message bodies.
    for p in (home / "db").rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            for needle in bodies:
                assert needle not in data, f"body text {needle!r} in {p}"
