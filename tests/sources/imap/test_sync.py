"""Mirroring an IMAP account into the archive against a real Dovecot."""

from __future__ import annotations

import hashlib

from mailark.sources.imap.sync import sync_profile
from tests.sources.imap.conftest import append, items


def test_full_then_incremental_sync_fetches_only_new(rt, account, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    pid, user = account
    append(dovecot, user, "INBOX", messages[:10])
    append(dovecot, user, "Work/Projects", messages[10:15])
    first = sync_profile(rt, pid)
    assert first.status == "ok", first.error
    assert first.fetched == 15 and first.counts.archived == 15
    assert {f for f, *_ in items(rt)} == {"INBOX", "Work/Projects"}

    again = sync_profile(rt, pid)
    assert again.status == "ok" and again.fetched == 0 and again.counts.seen == 0

    append(dovecot, user, "INBOX", messages[15:18])
    third = sync_profile(rt, pid)
    assert third.fetched == 3 and third.counts.archived == 3 and third.counts.duplicates == 0
    assert len(items(rt)) == 18
    # Each copy carries where it came from: UIDVALIDITY:UID:stable id.
    positions = [p for *_, p in items(rt)]
    assert all(len(p.split(":")) == 4 and p.split(":")[2] and p.split(":")[3] for p in positions)
    assert {hashlib.sha256(m).hexdigest() for m in messages[:18]} == {sha for _, sha, _ in items(rt)}


def _rebuilt(rt, org) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """Every archived copy rebuilt by the CopyReader (checked against its SHA-256), by sha256."""
    arch = rt.archive_for(org)
    reader = arch.reader()
    rows = rt.lake.execute(
        "SELECT m.skeleton_ref, i.delta_ref, i.copy_sha256 FROM lake.mailbox_items i "
        "JOIN lake.messages m ON m.org_id = i.org_id AND m.message_key = i.message_key"
    ).fetchall()
    return {sha: reader.rebuild(sk, d, sha) for sk, d, sha in rows}


def test_archive_is_byte_exact_and_server_stays_unread(rt, org, account, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    pid, user = account
    sample = messages[:12]
    append(dovecot, user, "INBOX", sample)
    assert sync_profile(rt, pid).counts.archived == 12
    rebuilt = _rebuilt(rt, org)
    assert sorted(rebuilt.values()) == sorted(sample)
    # EXAMINE + BODY.PEEK[]: nothing was marked \Seen on the server.
    c = dovecot.client(user)
    c.select_folder("INBOX", readonly=True)
    flags = c.get_flags(c.search("ALL"))
    c.logout()
    assert flags and all(b"\\Seen" not in f for f in flags.values())


def test_server_side_delete_keeps_the_archive_copy(rt, account, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    pid, user = account
    append(dovecot, user, "INBOX", messages[:5])
    sync_profile(rt, pid)
    c = dovecot.client(user)
    c.select_folder("INBOX")
    c.delete_messages(c.search("ALL")[:3])
    c.expunge()
    c.logout()
    r = sync_profile(rt, pid)
    assert r.status == "ok" and r.fetched == 0
    assert len(items(rt)) == 5
    # Deleting the whole folder on the server does not delete from the archive either.
    c = dovecot.client(user)
    c.create_folder("Old")
    c.append("Old", messages[5])
    c.logout()
    sync_profile(rt, pid)
    c = dovecot.client(user)
    c.delete_folder("Old")
    c.logout()
    r = sync_profile(rt, pid)
    assert r.status == "ok"
    assert ("Old", hashlib.sha256(messages[5]).hexdigest()) in {(f, s) for f, s, _ in items(rt)}
    assert len(items(rt)) == 6
