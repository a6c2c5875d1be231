"""`mailark search index` and `mailark search query`, as a subprocess against a temp home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.search.conftest import Archive
from tests.search.mails import message

MAILARK = str(Path(sys.executable).parent / "mailark")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MAILARK, *args], capture_output=True, text=True, timeout=120, env=os.environ.copy())


def test_index_then_query_and_errors(arc: Archive) -> None:
    arc.put(arc.ann, [message(1, subject="Walrus sighting"), message(2, subject="Penguin parade")])
    arc.archive.lake.close()  # let the subprocess have the catalogue to itself
    r = run("search", "index", "--org", "acme", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["indexed"] == 2
    r = run("search", "query", "--org", "acme", "walrus", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["total"] == 1 and doc["hits"][0]["subject"] == "Walrus sighting"
    r = run("search", "query", "--org", "acme", '"unclosed')
    assert r.returncode == 1 and "quote is not closed" in r.stderr
    r = run("search", "index", "--org", "nosuch")
    assert r.returncode == 1 and "nosuch" in r.stderr
