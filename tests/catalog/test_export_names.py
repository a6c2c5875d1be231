"""Issues 13 and 19: every produced zip is safe to open anywhere: no entry leaves the root, names are
portable and unique (also without regard to case, and where a folder is named like a message file),
and manifest cells neither run as spreadsheet formulas nor carry control characters."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path, PurePosixPath

MAILARK = str(Path(sys.executable).parent / "mailark")
FOLDERS = ["../../etc", "/abs/olute", "Inbox", "INBOX", "x/000001.eml", "x", "a\\b:c", "con", "Rechnung\u202efdp.exe",
           "trailing. ", "tab\there"]


def _mail(i: int, message_id: str) -> bytes:
    return (f"From: a@example.org\r\nTo: b@example.org\r\nSubject: n{i}\r\nMessage-ID: {message_id}\r\n"
            f"Date: Mon, 02 Nov 2026 09:00:0{i % 10} +0000\r\n\r\nbody {i}\r\n").encode()


def test_zip_entries_stay_inside_are_unique_and_manifest_cells_are_defused(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    subprocess.run([MAILARK, "org", "create", "acme", "--json"], check=True, capture_output=True, timeout=120)
    for i, folder in enumerate(FOLDERS):
        src = tmp_path / f"m{i}"
        src.mkdir()
        (src / "m.eml").write_bytes(_mail(i, "=HYPERLINK(\"http://evil.example\")" if i == 0 else f"<{i}@x>"))
        done = subprocess.run([MAILARK, "import", str(src), "--org", "acme", "--mailbox", "ann@acme", "--folder", folder,
                               "--json"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (folder, done.stderr)
    out = tmp_path / "all.zip"
    done = subprocess.run([MAILARK, "export", "--org", "acme", "--out", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        manifest = list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode())))
    emls = [n for n in names if n.endswith(".eml")]
    assert len(emls) == len(FOLDERS)
    for n in names:
        p = PurePosixPath(n)
        assert not p.is_absolute() and ".." not in p.parts and "\\" not in n and ":" not in n, n
        assert all(ord(c) >= 32 and c not in '*?"<>|\u202e' for c in n), n
        assert all(part == part.rstrip(". ") for part in p.parts), n
    lower = [n.lower() for n in names]
    assert len(set(lower)) == len(lower), "two entries differ only by case"
    files, dirs = set(lower), {str(PurePosixPath(n).parent) for n in lower}
    assert not files & dirs, "an entry is both a file and a folder"
    assert {r["path"] for r in manifest} == set(names) - {"manifest.csv"}
    ids = {r["message_id"] for r in manifest}
    assert not [v for r in manifest for v in r.values() if v and v[0] in "=+-@"]
    assert any(i.startswith("'=HYPERLINK") for i in ids)
    assert all("\t" not in v and "\n" not in v for r in manifest for v in r.values())


def test_bidi_controls_in_attachment_names_are_shown_not_obeyed() -> None:
    """Issue 13: `invoice\\u202efdp.exe` would display as `invoiceexe.pdf`; pages and downloads show the control."""
    from email import policy
    from email.parser import BytesParser

    from mailark.catalog.mailview import attachments_of

    raw = ("From: a@x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           "Content-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/octet-stream\r\n"
           "Content-Disposition: attachment; filename*=UTF-8''invoice%E2%80%AEfdp.exe\r\n\r\nMZ\r\n--b--\r\n").encode()
    [(att, _)] = attachments_of(BytesParser(policy=policy.default).parsebytes(raw))  # type: ignore[arg-type]
    assert att.filename == "invoice[U+202E]fdp.exe"


def test_folder_names_unique_across_unicode_normalization_and_case_folding() -> None:
    from mailark.catalog.export_names import FolderNames

    names = FolderNames()
    given = [names("ann@acme", f) for f in ("Caf\u00e9", "Cafe\u0301", "Stra\u00dfe", "STRASSE", "000001.eml", "x/..")]
    folded = [unicodedata.normalize("NFC", g).casefold() for g in given]
    assert len(set(folded)) == len(folded), given
    assert names("ann@acme", "Caf\u00e9") == given[0]  # the same folder keeps its name


def test_a_killed_export_leaves_no_part_file_after_the_next(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    subprocess.run([MAILARK, "org", "create", "acme", "--json"], check=True, capture_output=True, timeout=120)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "m.eml").write_bytes(_mail(1, "<1@x>"))
    subprocess.run([MAILARK, "import", str(tmp_path / "src"), "--org", "acme", "--mailbox", "ann@acme"], check=True,
                   capture_output=True, timeout=120)
    out = tmp_path / "out" / "acme.zip"
    out.parent.mkdir()
    # What a kill -9 of an export into the same folder (another file name) leaves: cleaned by the next export.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    (out.parent / f".old.zip.{dead}.part").write_bytes(b"PK\x03\x04 half an export")
    (out.parent / f".running.zip.{os.getpid()}.part").write_bytes(b"PK\x03\x04 being written")  # a live export
    subprocess.run([MAILARK, "export", "--org", "acme", "--out", str(out)], check=True, capture_output=True, timeout=300)
    assert sorted(p.name for p in out.parent.iterdir()) == [f".running.zip.{os.getpid()}.part", "acme.zip"]
