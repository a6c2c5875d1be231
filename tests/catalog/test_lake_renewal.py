"""A long ingest renews its catalogue connection every `lake_renew_commits` commits (a DuckDB
database keeps metadata of every Parquet file it has read), without losing or repeating a copy."""

from __future__ import annotations

from mailark.catalog.ingest import BatchWriter, Incoming
from mailark.catalog.lake import ALIAS
from mailark.catalog.reading import copy_bytes, find_copy
from mailark.control.orgs import ensure_mailbox
from tests.search.mails import message


def test_ingest_moves_to_a_fresh_connection_every_n_commits(rt, org) -> None:  # type: ignore[no-untyped-def]
    rt.settings.lake_renew_commits = 3
    with rt.session() as s:
        box, _ = ensure_mailbox(s, org, "ann@acme.example")
    archive = rt.archive_for(org)
    writer = BatchWriter(archive, "run", "test")
    connections = []
    for b in range(7):
        batch = [Incoming(message(b * 10 + i), box.id, box.primary_address, "INBOX", "test", f"{b}/{i}") for i in range(3)]
        assert writer.write(batch).archived == 3
        connections.append(archive.lake)
    # commits 3 and 6 (and the ledger read-backs in between) ran on a new connection each
    assert len({id(c) for c in connections}) == 3
    assert connections[0] is connections[1] is not connections[2]
    assert archive.lake is rt.lake  # the archive always asks the runtime for the current one

    # Nothing lost, nothing twice, and the dedup check sees what older connections wrote.
    again = [Incoming(message(i), box.id, box.primary_address, "INBOX", "test", f"again/{i}") for i in range(3)]
    assert writer.write(again).duplicates == 3
    rows = rt.lake.execute(f"SELECT count(*), count(DISTINCT copy_sha256) FROM {ALIAS}.mailbox_items").fetchone()
    assert rows == (21, 21)
    ledger = rt.lake.execute(f"SELECT sum(archived), sum(duplicates) FROM {ALIAS}.ingest_ledger").fetchone()
    assert ledger == (21, 3)
    first = rt.lake.execute(f"SELECT item_id FROM {ALIAS}.mailbox_items WHERE source_position = '0/0'").fetchone()[0]
    row = find_copy(archive, first)
    assert row is not None and copy_bytes(archive, row) == message(0)  # written on the first connection, read on the last


def test_the_connection_never_changes_inside_a_lane(rt, org) -> None:  # type: ignore[no-untyped-def]
    """Code that takes `archive.lake` and then enters the lane (a compliance deletion does) must
    work on the connection the lane re-attached: the renewal happens on the way out."""
    rt.settings.lake_renew_commits = 1
    archive = rt.archive_for(org)
    before = archive.lake
    with archive.lane():
        assert archive.lake is before
        before.execute(f"SELECT count(*) FROM {ALIAS}.messages").fetchone()
    assert archive.lake is not before
