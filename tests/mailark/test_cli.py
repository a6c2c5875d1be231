"""The `mailark` command as users and scripts call it: exit codes, --json, byte-exact export."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mailark.sources.files import SourceMessage, iter_source

MAILARK = str(Path(sys.executable).parent / "mailark")


def run(*args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([MAILARK, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=600)
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


def test_corpus_import_export_byte_exact_and_idempotent(home, corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("org", "create", "acme")
    dup = run("org", "create", "acme", check=1)
    assert "already exists" in dup.stderr and not dup.stdout

    first = json.loads(run("import", str(corpus), "--org", "acme", "--mailbox", "archive@acme", "--json").stdout)
    assert first["seen"] == first["archived"] + first["duplicates"] + first["quarantined"] + first["deferred"]
    assert first["archived"] > 1000 and first["quarantined"] > 0 and first["deferred"] == 0
    assert first["mailbox_created"] is True

    # Every file of the corpus ends archived, duplicate or quarantined: count what the readers yield.
    expected = {}
    for m in iter_source(corpus):
        expected.setdefault((m.folder, m.position), m.raw)
    assert first["seen"] == len(list(iter_source(corpus)))

    again = json.loads(run("import", str(corpus), "--org", "acme", "--mailbox", "archive@acme", "--json").stdout)
    assert again["archived"] == 0 and again["quarantined"] == 0 and again["duplicates"] == again["seen"]

    out = tmp_path / "export.zip"
    run("export", "--org", "acme", "--out", str(out))
    with zipfile.ZipFile(out) as z:
        manifest = list(csv.DictReader(io.StringIO(z.read("manifest.csv").decode())))
        kinds = {"message": 0, "quarantined": 0}
        for row in manifest:
            data = z.read(row["path"])
            assert data == expected[(row["folder"], row["source_position"])], row["path"]
            kinds[row["kind"]] += 1
            if row["kind"] == "quarantined":
                assert row["path"].startswith("quarantine/") and row["reason"]
    assert kinds == {"message": first["archived"], "quarantined": first["quarantined"]}

    # The export read message content: it is in the audit log, and the chain holds.
    from mailark.control.audit import list_events
    from mailark.control.principals import Principal
    from mailark.runtime import open_runtime

    with open_runtime(home).control() as s:
        events = [e for e in list_events(s, Principal.deployment_operator(), None, limit=1000) if e.action == "content.export"]
    assert len(events) == 1 and events[0].details["messages"] == kinds["message"]
    assert "intact" in run("audit", "verify").stdout

    stats = json.loads(run("stats", "--org", "acme", "--json").stdout)
    assert stats["copies"] == first["archived"]
    assert 0 < stats["messages"] <= stats["copies"]
    assert stats["stored_bytes"] > 0 and stats["raw_bytes"] > 0

    rows = json.loads(run("sql", "SELECT count(*) AS n FROM mailbox_items", "--json").stdout)
    assert rows == [{"n": first["archived"]}]


def test_errors_and_usage(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = run("import", str(tmp_path / "nope.mbox"), "--org", "ghost", "--mailbox", "a@ghost", check=1)
    assert "error" in p.stderr and "no such file" in p.stderr
    (tmp_path / "m.eml").write_bytes(b"From: a@b\r\nSubject: x\r\n\r\nhi\r\n")
    p = run("import", str(tmp_path / "m.eml"), "--org", "ghost", "--mailbox", "a@ghost", check=1)
    assert "no organization named 'ghost'" in p.stderr
    assert run("org", "create", "Bad.Name", check=1).stderr.count("invalid organization name") == 1
    assert run("import", "--org", "x", check=2).returncode == 2  # wrong usage
    bad = run("sql", "DELETE FROM messages", check=1)
    assert "query failed" in bad.stderr


def test_folder_option_and_json_only_on_stdout(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mbox = tmp_path / "work.txt"  # an mbox by content, not by name
    mbox.write_bytes(
        b"From a@b Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: one\n\nbody\n>From here\n\n"
        b"From a@b Mon Jan  1 00:00:01 2024\nFrom: a@b\nSubject: two\n\nbody two\n"
    )
    run("org", "create", "acme")
    p = run("import", str(mbox), "--org", "acme", "--mailbox", "ann@acme", "--json")
    doc = json.loads(p.stdout)  # exactly one JSON document
    assert doc["archived"] == 2
    rows = json.loads(run("sql", "SELECT folder, count(*) AS n FROM mailbox_items GROUP BY 1", "--json").stdout)
    assert rows == [{"folder": "work", "n": 2}]
    run("import", str(mbox), "--org", "acme", "--mailbox", "ann@acme", "--folder", "Old/2024")
    rows = json.loads(run("sql", "SELECT DISTINCT folder FROM mailbox_items ORDER BY 1", "--json").stdout)
    assert [r["folder"] for r in rows] == ["Old/2024", "work"]
    out = tmp_path / "e.zip"
    run("export", "--org", "acme", "--mailbox", "ann@acme", "--folder", "work", "--out", str(out))
    with zipfile.ZipFile(out) as z:
        emls = sorted(n for n in z.namelist() if n.endswith(".eml"))
        assert emls == ["ann@acme/work/000001.eml", "ann@acme/work/000002.eml"]
        assert z.read(emls[0]).endswith(b"body\nFrom here\n")  # mboxrd unescaped, "From " line gone


def test_analyst_attaches_the_catalogue_with_plain_duckdb(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import duckdb

    (tmp_path / "m.eml").write_bytes(b"From: a@b\r\nSubject: for analysts\r\n\r\nhi\r\n")
    run("org", "create", "acme")
    run("import", str(tmp_path / "m.eml"), "--org", "acme", "--mailbox", "a@acme")
    script = run("sql", "--attach").stdout
    assert "READ_ONLY" in script and "LOAD" in script
    con = duckdb.connect()
    con.execute(script)
    assert con.sql("SELECT subject FROM messages").fetchall() == [("for analysts",)]
    with pytest.raises(duckdb.Error):
        con.execute("INSERT INTO usage (org_id) VALUES ('x')")  # read-only
    assert run("sql", check=2).returncode == 2


def test_import_into_a_new_mailbox_beyond_the_licence_is_refused(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "m.eml").write_bytes(b"From: a@b\r\nSubject: x\r\n\r\nhi\r\n")
    created = json.loads(run("org", "create", "tiny", "--users", "1", "--mailboxes-per-user", "1", "--storage-gb", "10", "--json").stdout)
    assert created["admin"] == "admin@tiny" and created["admin_password"]
    run("import", str(tmp_path / "m.eml"), "--org", "tiny", "--mailbox", "first@tiny")
    p = run("import", str(tmp_path / "m.eml"), "--org", "tiny", "--mailbox", "second@tiny", check=1)
    assert "licence" in p.stderr.lower() or "quota" in p.stderr.lower(), p.stderr
    assert not p.stdout
    # The refused import archived nothing; the mailbox that exists still takes mail.
    rows = json.loads(run("sql", "SELECT mailbox, count(*) AS n FROM mailbox_items GROUP BY 1", "--json").stdout)
    assert rows == [{"mailbox": "first@tiny", "n": 1}]


def test_version() -> None:
    from importlib.metadata import version

    done = subprocess.run([MAILARK, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"mailark {version('mailark')}"


def test_an_import_that_finds_no_mail_file_exits_1(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("org", "create", "acme")
    src = tmp_path / "src"
    (src / ".Trash" / "cur").mkdir(parents=True)  # hidden, and not inside a Maildir: skipped
    (src / ".Trash" / "cur" / "1.M1.mx:2,S").write_bytes(b"From: a@b\n\nx\n")
    p = run("import", str(src), "--org", "acme", "--mailbox", "ann@acme", "--json", check=1)
    assert "no mail files found" in p.stderr and not p.stdout
