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


def test_the_parts_setting_reaches_the_index_and_the_query(arc: Archive) -> None:
    """MAILARK_SEARCH__PART_DOCUMENTS, as an operator sets it: the index is written in parts, and
    `search query` reads all of them (the same total, newest first across the parts)."""
    arc.put(arc.ann, [message(i, subject=f"Walrus {i}") for i in range(7)])
    arc.archive.lake.close()
    env = {**os.environ, "MAILARK_SEARCH__PART_DOCUMENTS": "3", "MAILARK_SEARCH__MAX_PARTS": "2"}
    r = subprocess.run([MAILARK, "search", "index", "--org", "acme", "--json"], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["parts"] == 2
    r = run("search", "query", "--org", "acme", "walrus", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["total"] == 7
    dates = [h["date"] for h in doc["hits"]]
    assert len(dates) == 7 and dates == sorted(dates, reverse=True)
