"""The documentation runs: every fenced block marked ```sh runnable in README.md and docs/*.md is
executed, page by page in document order, against a fresh mailark home, and must exit 0.

Blocks without the `runnable` mark are illustrations (they need a server, a peer or your files).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```sh runnable[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def runnable_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def test_the_manual_has_runnable_commands() -> None:
    """A guard against the mark being lost in an edit: the pages keep their runnable walkthroughs."""
    counted = {p.name: len(runnable_blocks(p)) for p in PAGES}
    for name in ("README.md", "admins.md", "compliance.md", "analysts.md", "operators.md"):
        assert counted.get(name, 0) >= 1, f"{name} has no runnable block: {counted}"


@pytest.mark.parametrize("page", [p for p in PAGES if runnable_blocks(p)], ids=lambda p: p.name)
def test_runnable_blocks_work_on_a_fresh_home(page: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "samples").symlink_to(REPO / "samples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARK_")}
    env.update({
        "MAILARK_HOME": str(tmp_path / "home"),
        "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api",  # no Prefect server: the plain code runs
        "MAILARK_BACKUP_PASSPHRASE": "a passphrase for the docs test",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "COLUMNS": "100",
    })
    for n, block in enumerate(runnable_blocks(page), 1):
        done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + block], cwd=work, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (
            f"{page.name}, runnable block {n} failed (exit {done.returncode}):\n{block}\n"
            f"--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}")


def test_every_catalogue_column_is_documented() -> None:
    from mailark.catalog.schema import TABLES

    page = (REPO / "docs" / "analysts.md").read_text(encoding="utf-8")
    missing = []
    for table, columns in TABLES.items():
        section = page.split(f"### `{table}`", 1)
        assert len(section) == 2, f"docs/analysts.md has no section for {table}"
        body = section[1].split("\n### ", 1)[0]
        for col in (c.split()[0] for c in columns.replace("\n", " ").split(",") if c.strip()):
            if f"`{col}`" not in body:
                missing.append(f"{table}.{col}")
    assert not missing, f"undocumented catalogue columns: {missing}"
