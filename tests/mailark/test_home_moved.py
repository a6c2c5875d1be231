"""A home moved or restored to another path keeps working; a home that cannot be used gets one line
that says what to do, never a traceback (issue 18)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAILARK = str(Path(sys.executable).parent / "mailark")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARK_")}
    env.update({"MAILARK_HOME": str(home), "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api", "COLUMNS": "100"})
    return env


def mailark(home: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([MAILARK, *args], env=_env(home), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == code, f"mailark {' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_a_moved_home_reads_and_writes_its_lake(tmp_path: Path) -> None:
    old, new = tmp_path / "old-home", tmp_path / "new-home"
    mailark(old, "org", "create", "acme", "--json")
    mailark(old, "user", "add", "ann@acme", "--mailbox", "--org", "acme", "--json")
    mailark(old, "import", str(REPO / "samples" / "mail"), "--org", "acme", "--mailbox", "ann@acme")
    shutil.move(old, new)  # moved, or restored from a backup on another machine under another path

    stats = json.loads(mailark(new, "stats", "--org", "acme", "--json").stdout)
    assert stats["messages"] == 3
    rows = mailark(new, "sql", "SELECT subject FROM messages ORDER BY subject", "--json").stdout
    assert "Invoice" in rows
    again = json.loads(mailark(new, "import", str(REPO / "samples" / "mail"), "--org", "acme", "--mailbox", "ann@acme",
                               "--json").stdout)
    assert again["archived"] == 0
    mailark(new, "export", "--org", "acme", "--mailbox", "ann@acme", "--out", str(tmp_path / "ann.zip"))
    assert (tmp_path / "ann.zip").stat().st_size > 0


@pytest.mark.parametrize("args", [("org", "list"), ("user", "list", "--org", "acme"), ("stats", "--org", "acme"),
                                  ("search", "query", "--org", "acme", "budget"), ("audit", "verify"),
                                  ("directory", "list", "--org", "acme"),
                                  ("import", "samples/mail", "--org", "acme", "--mailbox", "ann@acme")])
def test_a_home_that_is_a_file_gets_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory\n")
    done = subprocess.run([MAILARK, *args], env=_env(home), cwd=REPO, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2, done.stderr
    assert "MAILARK_HOME" in done.stderr, done.stderr
