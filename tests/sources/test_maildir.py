"""Maildir and Maildir++ import: a tree written by a real Dovecot, and the layouts of Courier and Postfix."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mailark.sources.files import SourceMessage, SourceProblem, iter_source
from mailark.sources.files.importing import ImportRefused, run_import
from mailark.sources.files.maildir import decode_mutf7, maildirpp_folder, split_info
from tests.peers.dovecot import find_dovecot, remove, start_dovecot


def _msg(n: int) -> bytes:
    return f"From: ann@acme.example\r\nTo: bob@acme.example\r\nSubject: note {n}\r\nMessage-ID: <{n}@acme.example>\r\n\r\nbody {n}\r\n".encode()


def test_maildir_names() -> None:
    assert split_info("1700000000.M1P2.host,S=120,W=123:2,SRF") == ("1700000000.M1P2.host,S=120,W=123", "FRS")
    assert split_info("1700000000.M1P2.host") == ("1700000000.M1P2.host", "")
    assert decode_mutf7("Entw&APw-rfe") == "Entwürfe" and decode_mutf7("A&-B") == "A&B"
    assert decode_mutf7("&bad") == "&bad"
    assert maildirpp_folder(".Archive.2020") == "Archive/2020"
    assert maildirpp_folder(".&AMQ-rger") == "Ärger"
    assert maildirpp_folder(".") is None and maildirpp_folder("Sent") is None


@pytest.mark.skipif(find_dovecot() is None, reason="dovecot is not installed (scripts/install-test-deps.sh)")
def test_maildir_written_by_dovecot_imports_every_folder(rt, org, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = start_dovecot({"ann": "pw"})
    try:
        c = server.client("ann")
        folders = {"INBOX": [1, 2], "Sent": [3], "Archive/2020": [4, 5], "Entwürfe": [6]}
        for name in folders:
            if name != "INBOX":
                c.create_folder(name)
        c.append("INBOX", _msg(1), flags=[b"\\Seen", b"\\Flagged"])
        c.append("INBOX", _msg(2))
        c.append("Sent", _msg(3), flags=[b"\\Seen", b"\\Answered"])
        c.append("Archive/2020", _msg(4), flags=[b"\\Seen"])
        c.append("Archive/2020", _msg(5), flags=[b"\\Seen"])
        c.append("Entwürfe", _msg(6), flags=[b"\\Draft"])
        c.logout()
        server.stop()
        maildir = tmp_path / "ann" / "Maildir"
        shutil.copytree(server.maildir("ann") / "Maildir", maildir, symlinks=True)
    finally:
        remove(server)
    # Dovecot's own files are there (index, uid list, subscriptions): they are not mail.
    assert (maildir / "dovecot-uidlist").exists() and any(p.name.startswith(".Archive") for p in maildir.iterdir())

    items = list(iter_source(maildir))
    assert all(isinstance(i, SourceMessage) and i.source == "maildir" for i in items), items
    got = {}
    for i in items:
        got.setdefault(i.folder, []).append(i.raw)
    stored = {n: _msg(n).replace(b"\r\n", b"\n") for n in range(1, 7)}  # Dovecot keeps LF line ends on disk
    assert {f: sorted(r) for f, r in got.items()} == {f: sorted(stored[n] for n in ns) for f, ns in folders.items()}
    flags = {i.raw: i.flags for i in items}
    assert flags[stored[1]] == "FS" and flags[stored[3]] == "RS" and flags[stored[6]] == "D"
    assert [i.position for i in items] == [i.position for i in iter_source(maildir)]

    result = run_import(rt, "acme", "ann@acme.example", [maildir])
    assert result.counts.archived == 6 and result.counts.quarantined == 0
    rows = rt.archive_for(org).lake.execute(
        "SELECT folder, count(*) FROM lake.mailbox_items GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [("Archive/2020", 2), ("Entwürfe", 1), ("INBOX", 2), ("Sent", 1)]
    again = run_import(rt, "acme", "ann@acme.example", [maildir])
    assert again.counts.duplicates == 6 and again.counts.archived == 0

    # Below a home directory (Postfix delivers into ~/Maildir/): folders keep the path above.
    home_items = list(iter_source(tmp_path / "ann"))
    assert {i.folder for i in home_items} == {f"Maildir/{f}" for f in folders}


def test_courier_and_postfix_layouts_and_what_is_not_read(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp", ".Lists.python/cur", ".Lists.python/new", ".Lists.python/tmp",
                "courierimapkeywords", ".Trash/cur", ".Trash/tmp", ".not-a-folder"):
        (root / sub).mkdir(parents=True)
    (root / "new" / "1700000001.V801I2M3.mx").write_bytes(_msg(1))  # Postfix: new/, no info yet
    (root / "tmp" / "1700000002.V801I2M4.mx").write_bytes(_msg(99))  # a delivery in progress
    (root / ".Lists.python" / "cur" / "1700000003.V1.mx:2,S").write_bytes(_msg(3))
    (root / ".Lists.python" / "maildirfolder").write_bytes(b"")
    (root / ".Trash" / "cur" / "1700000004.V1.mx:2,ST").write_bytes(_msg(4))
    (root / "courierimapkeywords" / ":list").write_bytes(b"$Label1\n")
    (root / "courierimapsubscribed").write_bytes(b"INBOX.Lists.python\n")
    (root / ".not-a-folder" / "x.eml").write_bytes(_msg(98))
    os.mkfifo(root / "cur" / "1700000005.V1.mx:2,")

    items = list(iter_source(root))
    messages = {i.position: i for i in items if isinstance(i, SourceMessage)}
    assert {p: (m.folder, m.flags) for p, m in messages.items()} == {
        "new/1700000001.V801I2M3.mx": ("INBOX", ""),
        ".Lists.python/cur/1700000003.V1.mx": ("Lists/python", "S"),
        ".Trash/cur/1700000004.V1.mx": ("Trash", "ST"),
    }
    (problem,) = [i for i in items if isinstance(i, SourceProblem)]
    assert problem.position == "cur/1700000005.V1.mx" and "regular file" in problem.reason
    assert {i.folder for i in iter_source(root, folder="Old")} == {"Old"}


def test_an_import_that_finds_no_mail_is_refused(rt, org, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    (src / ".hidden").mkdir(parents=True)
    (src / ".hidden" / "a.eml").write_bytes(_msg(1))
    (src / "empty").mkdir()
    with pytest.raises(ImportRefused, match="no mail files found"):
        run_import(rt, "acme", "ann@acme.example", [src])
    with rt.control() as s:
        from mailark.control.orgs import find_mailbox

        assert find_mailbox(s, org, "ann@acme.example") is None  # nothing created either
