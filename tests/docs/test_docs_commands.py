"""The documentation runs.

Every fenced block whose info string is `sh runnable` in README.md and docs/*.md is executed with
bash (`set -euo pipefail`), page by page and block by block in document order, against a fresh
`MAILARK_HOME` per page, with `PATH` starting at this interpreter's bin directory (the venv's
`mailark`). Each block must exit 0; a failure shows the block and its output.

Blocks without the `runnable` mark (plain ```sh) are illustrations: they need a server, a peer or
your own files. The pages run side by side (four at a time), each page's blocks in order.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```sh runnable[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
FENCE = re.compile(r"^```(\S*)(.*)$", re.M)
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def runnable_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


@dataclass
class Outcome:
    block: int  # the failing block (1-based), or 0 when all passed
    text: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def run_page(page: Path, root: Path) -> Outcome:
    """Run a page's runnable blocks in order in one shell environment of its own."""
    work = root / page.stem / "work"
    work.mkdir(parents=True)
    (work / "samples").symlink_to(REPO / "samples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARK_")}
    env.update({
        "MAILARK_HOME": str(root / page.stem / "home"),
        "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api",  # no Prefect server: the plain code runs
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "COLUMNS": "100",
    })
    start = time.monotonic()
    for n, block in enumerate(runnable_blocks(page), 1):
        done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + block], cwd=work, env=env,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            return Outcome(n, block, done.returncode, done.stdout, done.stderr, time.monotonic() - start)
    return Outcome(0, "", 0, "", "", time.monotonic() - start)


RUNNABLE_PAGES = [p for p in PAGES if runnable_blocks(p)]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("docs")
    # Longest pages first; four workers keep two cores busy (each command waits on its databases too).
    pages = sorted(RUNNABLE_PAGES, key=lambda p: -sum(b.count("mailark ") for b in runnable_blocks(p)))
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {p.name: pool.submit(run_page, p, root) for p in pages}
        return {name: f.result() for name, f in futures.items()}


def test_the_manual_has_runnable_commands() -> None:
    """A guard against the mark being lost in an edit: the pages keep their runnable walkthroughs."""
    counted = {p.name: len(runnable_blocks(p)) for p in PAGES}
    for name in ("README.md", "operators.md", "admins.md", "sources.md", "compliance.md", "analysts.md",
                 "integrators.md", "security.md"):
        assert counted.get(name, 0) >= 1, f"{name} has no runnable block: {counted}"


def test_only_known_info_strings() -> None:
    """`sh runnable` is the one mark; a typo (`sh runable`, `bash runnable`) would silently skip a block."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for lang, rest in FENCE.findall(text):
            mark = (lang + rest).strip()
            assert mark in ("", "sh", "sh runnable", "python", "sql", "toml", "json", "text"), \
                f"{page.name}: unknown fence info string {mark!r}"


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda p: p.name)
def test_runnable_blocks_work_on_a_fresh_home(page: Path, outcomes: dict[str, Outcome]) -> None:
    done = outcomes[page.name]
    assert done.block == 0, (
        f"{page.name}, runnable block {done.block} failed (exit {done.returncode}):\n{done.text}\n"
        f"--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}")


def test_the_readme_quick_start_runs_after_the_demo(tmp_path: Path) -> None:
    """The reader's first hour: `make demo`'s command, then the README's blocks in order, in the same home."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "samples").symlink_to(REPO / "samples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARK_")}
    env.update({"MAILARK_HOME": str(tmp_path / "home"), "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", "COLUMNS": "100"})
    demo = subprocess.run(["mailark", "demo", "--no-server", "--no-web", "--corpus", "samples/mail"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "source " in demo.stdout and "/activate" in demo.stdout  # how to get this mailark on the PATH
    for n, block in enumerate(runnable_blocks(REPO / "README.md"), 1):
        done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + block], cwd=work, env=env, capture_output=True,
                              text=True, timeout=600, check=False)
        assert done.returncode == 0, f"README block {n} after the demo:\n{block}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


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


def test_every_command_is_documented() -> None:
    """Each `mailark` command appears somewhere in the manual (README, docs/, CONTRIBUTING.md)."""
    import click
    import typer

    from mailark.cli import app

    text = "\n".join(p.read_text(encoding="utf-8") for p in [*PAGES, REPO / "CONTRIBUTING.md"])
    names: list[str] = []

    def walk(cmd: click.Command, prefix: list[str]) -> None:
        # click's own API: the top-level group imports each command's module only when asked for it
        subs = cmd.list_commands(click.Context(cmd)) if hasattr(cmd, "list_commands") else []
        if subs:
            for name in subs:
                walk(cmd.get_command(click.Context(cmd), name), [*prefix, name])
        else:
            names.append(" ".join(prefix))

    walk(typer.main.get_command(app), ["mailark"])
    missing = [n for n in names if n not in text]
    assert not missing, f"commands the manual does not mention: {missing}"


def _cli_commands() -> dict[str, object]:
    import click
    import typer

    from mailark.cli import app

    found: dict[str, object] = {}
    root = typer.main.get_command(app)
    ctx = click.Context(root)

    def walk(cmd: click.Command, prefix: list[str]) -> None:
        if hasattr(cmd, "list_commands"):  # a group; the top one loads its commands only when asked (lazy)
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), [*prefix, name])
        else:
            found[" ".join(prefix)] = cmd

    walk(root, ["mailark"])
    return found


def test_json_is_where_the_manual_says() -> None:
    """Every command takes --json except those the manual names; a `mailark X ... --json` example works."""
    commands = _cli_commands()
    without = sorted(n for n, c in commands.items() if "--json" not in {o for p in c.params for o in p.opts})  # type: ignore[attr-defined]
    page = (REPO / "docs" / "integrators.md").read_text(encoding="utf-8")
    sentence = page.split("Every command takes `--help`", 1)[1].split("\n\n", 1)[0]
    named = sorted(re.findall(r"`(mailark [a-z -]+?)`", sentence))
    assert without == named, f"commands without --json: {without}; the manual names: {named}"
    text = "\n".join(p.read_text(encoding="utf-8") for p in [*PAGES, REPO / "CONTRIBUTING.md"])
    for m in re.finditer(r"(mailark(?: [a-z][a-z0-9-]*+)++)[^|`\n]*?--json", text):
        words = m.group(1).split()
        name = next((" ".join(words[:k]) for k in range(len(words), 0, -1) if " ".join(words[:k]) in commands), None)
        assert name is None or name not in without, f"the manual shows {name} --json, which it does not take"


def test_relative_links_resolve() -> None:
    """Links between the pages and to files of the repository point at something that exists."""
    broken = []
    for page in [*PAGES, REPO / "CONTRIBUTING.md", REPO / "SECURITY.md"]:
        for target, _anchor in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert not broken, f"broken links: {broken}"


def test_every_api_route_is_documented(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/integrators.md lists each route of the OpenAPI document with its method."""
    monkeypatch.setenv("MAILARK_HOME", str(tmp_path))
    from mailark.config.settings import Settings
    from mailark.dashboards.app import create_app

    page = (REPO / "docs" / "integrators.md").read_text(encoding="utf-8")
    paths = create_app(Settings(home=tmp_path)).openapi()["paths"]
    missing = [f"{m.upper()} {path}" for path, ops in paths.items() for m in ops
               if f"| `{m.upper()}` | `{path}` |" not in page]
    assert not missing, f"routes docs/integrators.md does not list: {missing}"
