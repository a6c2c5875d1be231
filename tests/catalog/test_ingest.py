"""The archive core end to end: ingest batches into the catalogue and the object store, read back."""

from __future__ import annotations

import os
import zipfile
from dataclasses import replace
from pathlib import Path

from mailark.catalog.export import export_zip
from mailark.catalog.ingest import BatchWriter, Incoming
from mailark.catalog.stats import org_stats
from mailark.control.orgs import create_org, ensure_mailbox
from mailark.storage.crypto import IntegrityError
from mailark.storage.mime import encode_base64


def mail(n: int, attachment: bytes, *, transport: bytes = b"", line_len: int = 76) -> bytes:
    return (
        transport
        + f"From: Ann <ann@acme>\r\nTo: Bob <bob@acme>\r\nSubject: Quarterly report number {n}\r\n"
        f"Message-ID: <{n}@acme>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n'
        f"Hello Bob, the figures for period {n} are attached.\r\n--b1\r\n"
        'Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n'
        'Content-Disposition: attachment; filename="report.pdf"\r\n\r\n'.encode()
        + encode_base64(attachment, line_len, b"\r\n", True)
        + b"--b1--\r\n"
    )


def items(archive_mb, raws: list[tuple[bytes, str]]) -> list[Incoming]:  # type: ignore[no-untyped-def]
    return [Incoming(raw, archive_mb.id, archive_mb.primary_address, folder, "eml", f"{folder}/{i}") for i, (raw, folder) in enumerate(raws)]


def setup(rt, org, address: str = "bob@acme"):  # type: ignore[no-untyped-def]
    with rt.session() as s:
        mb, _ = ensure_mailbox(s, org, address)
    return rt.archive_for(org), mb


def test_copies_dedup_and_rebuild(rt, org) -> None:  # type: ignore[no-untyped-def]
    arch, mb = setup(rt, org)
    att = os.urandom(200_000)
    sent = mail(1, att).replace(b"To: Bob <bob@acme>\r\n", b"To: Bob <bob@acme>\r\nBcc: eve@acme\r\n")
    inbox = mail(1, att, transport=b"Return-Path: <ann@acme>\r\nReceived: from a by b; Mon, 1 Jan 2024 10:00:01 +0100\r\n")
    fwd = mail(2, att, line_len=64)  # the same attachment, another message, wrapped differently
    w = BatchWriter(arch, "run", "test")
    c = w.write(items(mb, [(sent, "Sent"), (inbox, "Inbox"), (fwd, "Inbox")]))
    assert (c.seen, c.archived, c.duplicates, c.quarantined) == (3, 3, 0, 0)
    st = org_stats(arch)
    assert st["messages"] == 2 and st["copies"] == 3
    # The 200 KB attachment is stored once although it arrived three times.
    assert st["object_bytes"] < 200_000 + 20_000
    rows = rt.lake.execute(
        "SELECT count(*), count(DISTINCT object_key) FROM lake.parts WHERE org_id = ?", [org.id]
    ).fetchone()
    assert rows == (2, 1)
    bcc = rt.lake.execute("SELECT bcc_addrs FROM lake.mailbox_items WHERE folder = 'Sent'").fetchone()[0]
    assert bcc == ["eve@acme"]
    out = Path(rt.settings.home) / "x.zip"
    export_zip(arch, out)
    with zipfile.ZipFile(out) as z:
        got = sorted(z.read(n) for n in z.namelist() if n.endswith(".eml"))
        assert "manifest.csv" in z.namelist()
    assert got == sorted([sent, inbox, fwd])


def test_reingest_is_all_duplicates_and_rows_stay_unique(rt, org) -> None:  # type: ignore[no-untyped-def]
    arch, mb = setup(rt, org)
    raws = [(mail(i, os.urandom(5000)), "Inbox") for i in range(20)] + [(b"", "Inbox"), (b"garbage\n", "Inbox")]
    w = BatchWriter(arch, "run", "test")
    first = w.write(items(mb, raws))
    assert (first.archived, first.quarantined) == (20, 2)
    again = BatchWriter(arch, "run2", "test").write(items(mb, raws))
    assert (again.archived, again.duplicates, again.quarantined) == (0, 22, 0)
    # Same bytes in another folder is another copy, not a duplicate; the message is shared.
    other = BatchWriter(arch, "run3", "test").write(items(mb, [(raws[0][0], "Archive")]))
    assert other.archived == 1
    q = rt.lake.execute
    assert q("SELECT count(*) FROM lake.messages").fetchone()[0] == 20
    assert q("SELECT count(*), count(DISTINCT (mailbox_id, folder, copy_sha256)) FROM lake.mailbox_items").fetchone() == (21, 21)
    assert q("SELECT count(*) - count(DISTINCT object_key) FROM lake.objects").fetchone()[0] == 0
    ledger = q("SELECT sum(seen), sum(archived), sum(duplicates), sum(quarantined), sum(deferred) FROM lake.ingest_ledger").fetchone()
    assert ledger == (45, 21, 22, 2, 0)
    reasons = dict(q("SELECT reason, count(*) FROM lake.quarantine GROUP BY 1").fetchall())
    assert set(reasons) == {"empty file: no header and no body", "not an RFC 5322 message: the first line is not a header field"}


def test_storage_quota_defers_and_resumes(rt, org) -> None:  # type: ignore[no-untyped-def]
    arch, mb = setup(rt, org)
    raws = [(mail(i, os.urandom(40_000)), "Inbox") for i in range(10)]
    full = replace(arch, storage_quota_bytes=200_000)
    c = BatchWriter(full, "run", "test").write(items(mb, raws))
    assert c.deferred > 0 and c.archived + c.deferred == 10
    assert c.reasons["deferred: storage quota full"] == c.deferred
    roomy = replace(arch, storage_quota_bytes=10**9)
    later = BatchWriter(roomy, "run2", "test").write(items(mb, raws))
    assert later.archived == c.deferred and later.duplicates == c.archived


def test_one_writer_sums_the_storage_once_and_counts_its_own_batches(rt, org, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The quota check of a run reads the catalogue once, then adds what each batch stored: the
    quota still stops a run whose batches fill it one after another."""
    from mailark.catalog import ingest

    arch, mb = setup(rt, org)
    sums: list[int] = []
    real = ingest.storage_used
    monkeypatch.setattr(ingest, "storage_used", lambda a: sums.append(real(a)) or sums[-1])
    w = BatchWriter(replace(arch, storage_quota_bytes=250_000), "run", "test")
    got = [w.write(items(mb, [(mail(10 * b + i, os.urandom(40_000)), "Inbox") for i in range(2)])) for b in range(5)]
    assert len(sums) == 1
    archived = [c.archived for c in got]
    assert archived[0] == 2 and 3 <= sum(archived) <= 6 and got[-1].deferred == 2
    assert ingest.storage_used(arch) <= 250_000 + 60_000  # at most one message's raw size over


def test_organizations_share_nothing(rt, org) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        other, _ = create_org(s, "globex", rt.master_key)
    arch_a, mb_a = setup(rt, org, "x@acme")
    arch_b, mb_b = setup(rt, other, "x@globex")
    raw = mail(7, os.urandom(100_000))
    BatchWriter(arch_a, "r", "t").write(items(mb_a, [(raw, "Inbox")]))
    BatchWriter(arch_b, "r", "t").write(items(mb_b, [(raw, "Inbox")]))
    names_a = {o.name for o in rt.store.list(f"orgs/{org.id}/")}
    names_b = {o.name for o in rt.store.list(f"orgs/{other.id}/")}
    assert names_a and names_b
    digests = lambda names: {n.rsplit("/", 1)[1] for n in names}  # noqa: E731
    assert not digests(names_a) & digests(names_b)  # no shared content names across tenants
    assert org_stats(arch_b)["copies"] == 1 and org_stats(arch_a)["copies"] == 1
    # One tenant's keys cannot open the other's objects.
    part_b = next(n for n in names_b if "/objects/" in n)
    try:
        arch_a.sealer.open(rt.store.get(part_b), part_b)
    except IntegrityError:
        pass
    else:
        raise AssertionError("organization A opened an object of organization B")


def test_tampered_object_is_detected_on_read(rt, org) -> None:  # type: ignore[no-untyped-def]
    arch, mb = setup(rt, org)
    raw = mail(9, os.urandom(100_000))
    BatchWriter(arch, "r", "t").write(items(mb, [(raw, "Inbox")]))
    part = next(o.name for o in rt.store.list(f"orgs/{org.id}/objects/"))
    blob = bytearray(rt.store.get(part))
    blob[100] ^= 0xFF
    rt.store.put(part, bytes(blob))
    out = Path(rt.settings.home) / "t.zip"
    res = export_zip(arch, out)  # goes on past the damaged copy (see tests/flows/test_export_damage.py)
    assert res.messages == 0 and res.damaged == 1
    with zipfile.ZipFile(out) as zf:
        assert not [n for n in zf.namelist() if n.endswith(".eml")]  # a tampered object is never exported
        assert "altered" in zf.read("manifest.csv").decode() and "DAMAGED.txt" in zf.namelist()


def test_zip_paths_are_safe() -> None:
    from mailark.catalog.export_names import zip_folder

    assert zip_folder("a@b", "../../etc/x") == "a@b/etc/x"
    assert zip_folder("a@b", "") == "a@b"


def test_a_50_mb_message_archives_and_rebuilds(rt, org, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.sources.files.importing import run_import

    big = mail(50, os.urandom(37 * 2**20))
    assert len(big) > 50 * 2**20
    src = tmp_path / "big.eml"
    src.write_bytes(big)
    result = run_import(rt, "acme", "big@acme", [src])
    assert result.counts.archived == 1
    out = tmp_path / "big.zip"
    export_zip(rt.archive_for(org), out)
    with zipfile.ZipFile(out) as z:
        assert z.read("big@acme/000001.eml") == big


def test_failed_run_leaves_a_ledger_row_with_its_reason(rt, org) -> None:  # type: ignore[no-untyped-def]
    from mailark.catalog.ingest import BatchWriter
    from mailark.catalog.lake import ALIAS

    archive = rt.archive_for(org)
    BatchWriter(archive, "run-x", source="imap").record_failure("login refused: wrong password", mailbox="a@acme")
    row = rt.lake.execute(
        f"SELECT source, mailbox, seen, archived, reasons FROM {ALIAS}.ingest_ledger WHERE run_id = 'run-x'"
    ).fetchall()
    assert row == [("imap", "a@acme", 0, 0, '{"failed: login refused: wrong password": 1}')]


def test_a_consumed_batch_frees_its_messages_and_cannot_be_written_again(rt, org) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from mailark.catalog.ingest import BatchWriter, Incoming

    with rt.session() as s:
        mb, _ = ensure_mailbox(s, org, "ann@acme")
    items = [Incoming(mail(n, b"pdf" * 50), mb.id, "ann@acme", "INBOX", "t", str(n)) for n in range(3)]
    writer = BatchWriter(rt.archive_for(org), "r", "t")
    assert writer.write(items, consume=True).archived == 3
    assert all(not it.raw for it in items), "the batch no longer holds the messages' bytes"
    with pytest.raises(ValueError, match="consumed"):
        writer.write(items)


def test_problems_without_bytes_each_leave_a_trace(rt, org, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.sources.files.importing import run_import

    src = tmp_path / "src"
    src.mkdir()
    os.mkfifo(src / "pipe-a")
    os.mkfifo(src / "pipe-b")
    (src / "empty-1.eml").write_bytes(b"")
    (src / "empty-2.eml").write_bytes(b"")
    (src / "bad-1.txt").write_bytes(b"just text\n")
    (src / "bad-2.txt").write_bytes(b"just text\n")  # the same bytes: kept once, a duplicate
    first = run_import(rt, "acme", "ann@acme", [src])
    assert (first.counts.quarantined, first.counts.duplicates) == (5, 1)
    rows = rt.archive_for(org).lake.execute(
        "SELECT source_position, size FROM lake.quarantine ORDER BY 1").fetchall()
    assert rows == [("bad-1.txt", 10), ("empty-1.eml", 0), ("empty-2.eml", 0), ("pipe-a", 0), ("pipe-b", 0)]
    again = run_import(rt, "acme", "ann@acme", [src])
    assert (again.counts.quarantined, again.counts.duplicates) == (0, 6)


def test_a_batch_runs_duckdb_on_one_thread_and_gives_the_threads_back(rt, org, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A batch's statements are small: a second DuckDB thread only adds CPU (catalog.lake.one_thread).
    The connection's own setting is back once the batch is written, for the large queries."""
    from mailark.catalog import ingest

    arch, mb = setup(rt, org)
    rt.lake.execute("SET threads = 2")
    seen: list[int] = []
    real = ingest.BatchWriter._commit

    def commit(self, *a, **k):  # type: ignore[no-untyped-def]
        seen.append(int(rt.lake.execute("SELECT current_setting('threads')").fetchone()[0]))
        return real(self, *a, **k)

    monkeypatch.setattr(ingest.BatchWriter, "_commit", commit)
    counts = BatchWriter(arch, "run", "test").write(items(mb, [(mail(1, b"x" * 1000), "Inbox")]))
    assert counts.archived == 1 and seen == [1]
    assert rt.lake.execute("SELECT current_setting('threads')").fetchone()[0] == 2


def test_a_stream_handed_to_duckdb_reads_once_and_loudly_refuses_a_second_read() -> None:
    import duckdb
    import pyarrow as pa
    import pytest

    from mailark.catalog.lake import scanned_once

    con = duckdb.connect()
    table = pa.table({"v": ["a", "b", "c"]})
    with scanned_once(con, "_s", table):
        assert con.execute("SELECT count(*) FROM _s").fetchone() == (3,)
        # A second read must fail, never answer with fewer rows (an existence check would then
        # find nothing and archive duplicates).
        with pytest.raises(duckdb.InvalidInputException, match="consumed"):
            con.execute("SELECT count(*) FROM _s").fetchall()
    with scanned_once(con, "_s", table), pytest.raises(duckdb.InvalidInputException, match="consumed"):
        con.execute("SELECT v FROM _s WHERE v = 'a' UNION ALL SELECT v FROM _s WHERE v = 'b'").fetchall()
    with pytest.raises(duckdb.CatalogException):  # gone after the block
        con.execute("SELECT * FROM _s").fetchall()


def test_an_import_process_finds_its_duplicates_without_pyarrow_dataset(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The existence check and the inserts hand their rows over as Arrow streams; a registered
    pyarrow Table would make DuckDB import pyarrow.dataset (0.04 s of every ingest process)."""
    import json
    import subprocess
    import sys

    source = tmp_path / "mail"  # tmp_path also holds the home
    source.mkdir()
    for n in range(3):
        (source / f"{n}.eml").write_bytes(mail(n, b"x" * (5000 + n)))
    probe = (
        "import sys, mailark.cli as cli\n"
        f"sys.argv = ['mailark', 'import', {str(source)!r}, '--org', 'acme', '--mailbox', 'bob@acme', '--json', '--no-index']\n"
        "try:\n    cli.main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('DATASET', 'pyarrow.dataset' in sys.modules)\n"
    )
    env = os.environ.copy()
    cli = [sys.executable, "-m", "mailark.cli"]
    assert subprocess.run([*cli, "org", "create", "acme"], check=False, env=env, capture_output=True, timeout=300).returncode == 0
    docs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", probe], check=False, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        out, _, loaded = done.stdout.rpartition("DATASET")
        docs.append(json.loads(out))
        assert loaded.strip() == "False"
    assert (docs[0]["archived"], docs[0]["duplicates"]) == (3, 0)
    assert (docs[1]["archived"], docs[1]["duplicates"]) == (0, 3)
