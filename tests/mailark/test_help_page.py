"""Issue 16: `mailark --help` draws Typer's page from the command table without importing Typer or Rich
(0.2 s of a 0.3 s budget); the page is the same, character for character, at any width."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from mailark.cli import app
from mailark.cli.help_page import render


@pytest.mark.parametrize("width", [60, 80, 123, 200])
def test_the_page_is_typers_page(width: int) -> None:
    r = CliRunner().invoke(app, ["--help"], env={"COLUMNS": str(width), "TERMINAL_WIDTH": None}, prog_name="mailark")
    assert r.exit_code == 0
    assert render(width) == r.stdout


def test_mailark_help_imports_neither_typer_nor_rich() -> None:
    probe = ("import sys\nsys.argv = ['mailark', '--help']\nfrom mailark.cli import main\nmain()\n"
             "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'rich', 'click'}))\n")
    done = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True,
                          timeout=60,
                          env={"COLUMNS": "97", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    page, loaded = done.stdout.rsplit("LOADED", 1)
    assert loaded.strip() == "[]"
    assert page == render(97)
