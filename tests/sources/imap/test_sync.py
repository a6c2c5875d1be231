"""Mirroring an IMAP account into the archive against a real Dovecot."""

from __future__ import annotations

import hashlib

from flows.imap_syncing import sync_profile
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
    assert all(len(p.split(":")) == 3 and p.split(":")[2] for p in positions)
    assert {hashlib.sha256(m).hexdigest() for m in messages[:18]} == {sha for _, sha, _ in items(rt)}
