"""Folder view mirroring: moves, copies, renames and UIDVALIDITY changes, with stable ids (Dovecot
X-GUID) and without them (UIDVALIDITY and Message-ID + size)."""

from __future__ import annotations

import hashlib

import pytest

from mailark.sources.imap.sync import sync_profile
from tests.sources.imap.conftest import account_config, append, items, make_source

MODES = ["auto", "off"]


@pytest.fixture(params=MODES)
def src(request, rt, org, dovecot, imap_user):  # type: ignore[no-untyped-def]
    cfg = account_config(dovecot, imap_user, stable_ids=request.param)
    pid = make_source(rt, f"m-{imap_user}", cfg, {"password": dovecot.users[imap_user]})
    return pid, imap_user, request.param


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _folders(rt) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {sha: f for f, sha, _ in items(rt)}


def test_move_between_folders_moves_the_archived_item(rt, src, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    pid, user, ids = src
    append(dovecot, user, "INBOX", messages[:6])
    append(dovecot, user, "Work", [])
    first = sync_profile(rt, pid)
    assert first.fetched == 6
    c = dovecot.client(user)
    c.select_folder("INBOX")
    uids = c.search("ALL")
    c.move(uids[:2], "Work")  # moved
    c.copy(uids[2:3], "Work")  # copied: still in INBOX too
    c.logout()
    r = sync_profile(rt, pid)
    assert r.status == "ok", r.error
    assert r.moved == 2 and r.fetched == 1  # only the copy is downloaded
    folders = _folders(rt)
    assert folders[_sha(messages[0])] == "Work" and folders[_sha(messages[1])] == "Work"
    assert sorted(f for f, sha, _ in items(rt) if sha == _sha(messages[2])) == ["INBOX", "Work"]
    assert len(items(rt)) == 7
    moves = rt.lake.execute("SELECT kind, from_folder, to_folder FROM lake.item_moves").fetchall()
    assert moves == [("move", "INBOX", "Work")] * 2
    # The ledger counts the moved ones as seen and duplicate, never as archived twice.
    led = rt.lake.execute("SELECT sum(seen), sum(archived), sum(duplicates) FROM lake.ingest_ledger").fetchone()
    assert led == (9, 7, 2)
    # Moved back: the item follows again (its position was updated on the first move).
    c = dovecot.client(user)
    c.select_folder("Work")
    c.move(c.search("ALL")[:1], "INBOX")
    c.logout()
    r = sync_profile(rt, pid)
    assert r.moved == 1 and r.fetched == 0
    assert _folders(rt)[_sha(messages[0])] == "INBOX"


def test_folder_rename_renames_the_archive_folder(rt, src, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    pid, user, ids = src
    append(dovecot, user, "Projects", messages[:4])
    append(dovecot, user, "INBOX", messages[4:6])
    sync_profile(rt, pid)
    c = dovecot.client(user)
    c.rename_folder("Projects", "Done/2026")
    c.logout()
    append(dovecot, user, "Done/2026", messages[6:7])
    r = sync_profile(rt, pid)
    assert r.status == "ok", r.error
    assert r.renamed == 1 and r.fetched == 1 and r.counts.archived == 1
    folders = _folders(rt)
    assert {folders[_sha(m)] for m in messages[:4]} == {"Done/2026"}
    assert folders[_sha(messages[6])] == "Done/2026"
    assert "Projects" not in {f for f, *_ in items(rt)}
    assert rt.lake.execute("SELECT kind, from_folder, to_folder, items FROM lake.item_moves").fetchall() == [
        ("rename", "Projects", "Done/2026", 4)]


def test_uidvalidity_change_stores_and_downloads_nothing_again(rt, src, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    pid, user, ids = src
    append(dovecot, user, "Lists", messages[:8])
    sync_profile(rt, pid)
    before = items(rt)
    # The folder is re-created (what a server restore or migration does): new UIDVALIDITY, new UIDs.
    c = dovecot.client(user)
    old = c.folder_status("Lists", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
    c.delete_folder("Lists")
    c.create_folder("Lists")
    assert c.folder_status("Lists", [b"UIDVALIDITY"])[b"UIDVALIDITY"] != old
    c.logout()
    append(dovecot, user, "Lists", messages[:8] + messages[8:9])
    r = sync_profile(rt, pid)
    assert r.status == "ok", r.error
    assert r.fetched == 1 and r.known == 8 and r.counts.archived == 1 and r.counts.duplicates == 8
    after = items(rt)
    assert len(after) == 9
    # Positions now name the new UIDVALIDITY, so moves keep being recognised.
    new_v = {p.split(":")[0] for f, _, p in after}
    assert len(new_v) == 1 and str(old) not in new_v
    assert {sha for _, sha, _ in before} <= {sha for _, sha, _ in after}
    assert sync_profile(rt, pid).fetched == 0
