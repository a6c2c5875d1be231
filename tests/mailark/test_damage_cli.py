"""`mailark scrub` and `mailark maintain` from the command line, and damage answered with one line, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MAILARK = str(Path(sys.executable).parent / "mailark")


def run(*args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([MAILARK, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=600)
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def archive(home, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    run("org", "create", "acme")
    run("domain", "add", "acme.example", "--org", "acme")
    run("import", str(corpus / "cpython-test_email"), "--org", "acme", "--mailbox", "ann@acme.example")


def test_scrub_and_maintain_report_as_json_and_exit_1_on_damage(home, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    archive(home, corpus)
    clean = json.loads(run("scrub", "--org", "acme", "--full", "--json").stdout)
    assert clean["healthy"] and clean["damaged"] == 0 and clean["scrubs"][0]["copies_verified"] > 40
    nightly = json.loads(run("maintain", "--json").stdout)
    assert nightly["healthy"] and nightly["audit_chain"]["ok"] and nightly["orphans_deleted"] == 0

    flip(next((home.objects_dir / "lake" / "main" / "messages").glob("*.parquet")))
    p = run("scrub", "--full", "--json", check=1)
    doc = json.loads(p.stdout)
    [bad] = [f for f in doc["scrubs"][0]["failures"] if f["kind"] == "catalogue"]
    assert "messages" in bad["reason"] and bad["affected"] and {a["mailbox"] for a in bad["affected"]} == {"ann@acme.example"}
    text = run("scrub", "--org", "acme", "--full", check=1)
    assert "DAMAGED" in text.stdout and "ann@acme.example" in text.stdout and "Traceback" not in text.stderr
    night = run("maintain", "--json", check=1)
    assert json.loads(night.stdout)["damaged"] >= 1


def test_a_damaged_catalogue_file_is_one_line_not_a_traceback(home, corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive(home, corpus)
    flip(next((home.objects_dir / "lake" / "main" / "mailbox_items").glob("*.parquet")))
    p = run("export", "--org", "acme", "--out", str(tmp_path / "x.zip"), check=1)
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) <= 3  # one sentence, wrapped
    assert "damaged" in p.stderr and "mailark scrub" in p.stderr


def test_an_export_with_damaged_copies_exits_3(home, corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import zipfile

    archive(home, corpus)
    part = next(p for p in (home.objects_dir / "orgs").rglob("objects/*/*") if p.is_file())
    flip(part)
    p = run("export", "--org", "acme", "--out", str(tmp_path / "x.zip"), "--json", check=3)
    doc = json.loads(p.stdout)
    assert doc["damaged"] >= 1 and doc["messages"] > 40 and "DAMAGED.txt" in p.stderr
    with zipfile.ZipFile(tmp_path / "x.zip") as zf:
        assert "DAMAGED.txt" in zf.namelist()
    job = json.loads(run("exports", "start", "--org", "acme", "--json", check=3).stdout)
    assert job["status"] == "done_damaged" and job["damaged"] == doc["damaged"]
