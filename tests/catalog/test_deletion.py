"""Deleting archived copies frees what only they used, keeps everything else byte-exact."""

from __future__ import annotations

import os

from mailark.catalog.deletion import delete_copies, find_copies
from mailark.catalog.ingest import BatchWriter, Incoming
from mailark.catalog.lake import ALIAS
from mailark.catalog.stats import org_stats
from mailark.control.orgs import ensure_mailbox
from tests.catalog.test_ingest import mail


def _copies(rt, archive):  # type: ignore[no-untyped-def]
    return rt.lake.execute(
        f"SELECT i.item_id, i.mailbox, m.skeleton_ref, i.delta_ref, i.copy_sha256, m.message_id "
        f"FROM {ALIAS}.mailbox_items i JOIN {ALIAS}.messages m USING (org_id, message_key) WHERE i.org_id = ? "
        f"ORDER BY i.mailbox, m.message_id", [archive.org_id]).fetchall()


def test_deleting_copies_frees_only_what_nothing_else_uses(rt, org) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        ann, _ = ensure_mailbox(s, org, "ann@acme")
        bob, _ = ensure_mailbox(s, org, "bob@acme")
    archive = rt.archive_for(org)
    shared_pdf, own_pdf = os.urandom(40_000), os.urandom(50_000)
    raw = {n: mail(n, shared_pdf if n < 3 else own_pdf, transport=f"Received: by mx{n}\r\n".encode()) for n in range(4)}
    items = [Incoming(raw[n], ann.id, "ann@acme", "INBOX", "t", str(n)) for n in range(4)]
    items += [Incoming(b"Received: by bob\r\n" + raw[0], bob.id, "bob@acme", "INBOX", "t", "b0")]
    items += [Incoming(b"\x00not mail", ann.id, "ann@acme", "INBOX", "t", "q", problem="not a message")]
    BatchWriter(archive, "r1", "test").write(items)
    before = org_stats(archive)

    by = {(r[1], r[5]): r for r in _copies(rt, archive)}
    # Message 3 is the only user of own_pdf; message 0 is also Bob's (another copy of one message).
    doomed = [by[("ann@acme", "<3@acme>")][0], by[("ann@acme", "<0@acme>")][0]]
    quarantined = rt.lake.execute(f"SELECT item_id FROM {ALIAS}.quarantine").fetchall()[0][0]
    own_pdf_key = archive.object_name(archive.keys.name_digest(own_pdf))
    assert rt.store.exists(own_pdf_key)
    old_pack = by[("ann@acme", "<1@acme>")][2].split(":")[0]

    result = delete_copies(archive, doomed + [quarantined])

    assert (result.copies, result.messages, result.packs_rewritten) == (3, 1, 1)
    assert not rt.store.exists(own_pdf_key), "an attachment nothing else uses is gone from the store"
    assert result.bytes_freed > 50_000
    left = _copies(rt, archive)
    assert sorted((r[1], r[5]) for r in left) == [("ann@acme", "<1@acme>"), ("ann@acme", "<2@acme>"),
                                                 ("bob@acme", "<0@acme>")]
    reader = archive.reader()
    for _, mailbox, skeleton, delta, sha, mid in left:
        assert not skeleton.startswith(old_pack) and (delta is None or not delta.startswith(old_pack))
        data = reader.rebuild(skeleton, delta, sha)  # checks the SHA-256 as received
        n = int(mid[1])
        assert data == (b"Received: by bob\r\n" + raw[0] if mailbox == "bob@acme" else raw[n])
    assert not rt.store.exists(f"orgs/{org.id}/packs/{old_pack}")
    after = org_stats(archive)
    assert after["stored_bytes"] < before["stored_bytes"]
    listed = {o.name for o in rt.store.list(f"orgs/{org.id}/")}
    catalogued = {r[0] for r in rt.lake.execute(f"SELECT object_key FROM {ALIAS}.objects").fetchall()}
    assert listed == catalogued, "no orphans and no dangling rows"
    assert delete_copies(archive, doomed).copies == 0  # deleting again is a no-op


def test_find_copies_by_message_id_within_mailboxes(rt, org) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        ann, _ = ensure_mailbox(s, org, "ann@acme")
        bob, _ = ensure_mailbox(s, org, "bob@acme")
    archive = rt.archive_for(org)
    m = mail(7, b"x" * 100)
    BatchWriter(archive, "r", "t").write([Incoming(m, ann.id, "ann@acme", "INBOX", "t", "1"),
                                          Incoming(m, bob.id, "bob@acme", "Sent", "t", "2")])
    found = find_copies(archive, message_id="<7@acme>", mailbox_ids={bob.id})
    assert [(c.mailbox, c.folder, c.quarantined) for c in found] == [("bob@acme", "Sent", False)]
    assert len(find_copies(archive, message_id="<7@acme>")) == 2
    assert find_copies(archive, item_ids=["nope"]) == []
