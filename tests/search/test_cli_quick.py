"""`mailark search query` answers through the quick path (mailark.cli.search_query) exactly as the Typer
command does, audits the same, and hands the command over whenever it cannot answer in full."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.core import _click as click  # Typer's own (vendored) click

from mailark.cli.search import search_app
from mailark.cli.search_query import QueryArgs, parse_quick, run_quick
from mailark.control.audit import verify_chain
from mailark.control.audit_events import HASHED
from mailark.control.models import AuditEvent
from tests.search.conftest import Archive
from tests.search.mails import message

MAILARK = str(Path(sys.executable).parent / "mailark")
TYPER_ONLY = "from mailark.cli import app; app(prog_name='mailark')"  # the command without the quick path
NOT_LOADED = ("sqlalchemy", "typer", "click", "duckdb", "alembic", "mailark.control.models")


def quick(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MAILARK, *args], capture_output=True, text=True, timeout=120, env=env or os.environ.copy())


def typer_only(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", TYPER_ONLY, *args], capture_output=True, text=True, timeout=120,
                          env=env or os.environ.copy())


def click_params(argv: list[str]) -> dict[str, object] | None:
    """What the Typer command's own parser makes of `argv` (None: it refuses them)."""
    cmd = typer.main.get_command(search_app).commands["query"]  # type: ignore[attr-defined]
    try:
        return cmd.make_context("query", list(argv)).params  # type: ignore[no-any-return]
    except click.exceptions.ClickException:
        return None


@pytest.mark.parametrize("argv", [
    ["--org", "acme", "walrus"],
    ["walrus", "--org=acme", "--json"],
    ["--org", "acme", "--page", "2", "--per-page", "5", "--sort", "oldest", "from:ann walrus"],
    ["--org", "a", "--org", "b", "x"],                 # the last one wins
    ["--org", "--json", "x"],                          # an option's value may look like an option
    ["--org", "acme", "--", "--json"],                 # after --, only text
    ["--org", "acme", "-"],
    ["--org", "acme", ""],
    ["--per-page=007", "--org", "acme", "t"],
])
def test_the_quick_parser_reads_what_click_reads(argv: list[str]) -> None:
    got = parse_quick(argv)
    assert got is not None
    want = click_params(argv)
    assert want == {"org": got.org, "text": got.text, "page": got.page, "per_page": got.per_page, "sort": got.sort,
                    "as_json": got.as_json}


@pytest.mark.parametrize("argv", [
    ["--help"], ["--org", "acme"], ["walrus"], ["--org", "acme", "a", "b"], ["--org", "acme", "--page", "x", "t"],
    ["--org", "acme", "--page", "-1", "t"], ["--org", "acme", "--json=1", "t"], ["--org", "acme", "--pag", "2", "t"],
    ["--org", "acme", "-j", "t"], ["--org"], ["--org", "acme", "t", "--page"],
])
def test_what_the_quick_parser_does_not_read_goes_to_typer(argv: list[str]) -> None:
    assert parse_quick(argv) is None


def _search_events(rt) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    with rt.control() as s:
        return [{c: getattr(e, c) for c in (*HASHED, "hash")}
                for e in s.query(AuditEvent).where(AuditEvent.action == "content.search").order_by(AuditEvent.seq)]


def test_quick_and_typer_answer_and_audit_alike(arc: Archive, rt) -> None:  # type: ignore[no-untyped-def]
    arc.put(arc.ann, [message(1, subject="Walrus sighting"), message(2, subject="Penguin parade"),
                      message(3, subject="Walrus [again]", sender="Info <info@acme.example>")])
    arc.archive.lake.close()  # let the subprocesses have the catalogue
    assert quick("search", "index", "--org", "acme", "--json").returncode == 0
    env = {**os.environ, "COLUMNS": "200"}
    for args in (["walrus", "--json"], ["walrus", "--per-page", "1", "--page", "2", "--sort", "oldest", "--json"],
                 ["from:info@acme.example walrus", "--json"], ["walrus"]):
        fast, full = quick("search", "query", "--org", "acme", *args, env=env), typer_only("search", "query", "--org", "acme", *args, env=env)
        assert fast.returncode == full.returncode == 0, (fast.stderr, full.stderr)
        assert fast.stdout == full.stdout and fast.stderr == full.stderr == ""
    assert json.loads(quick("search", "query", "--org", "acme", "walrus", "--json").stdout)["total"] == 2
    events = _search_events(rt)
    assert len(events) == 9  # four through each path, and the last one
    for a, b in zip(events[0:8:2], events[1:8:2], strict=True):  # quick, then Typer, for each query
        same = ("org_id", "actor_kind", "actor_id", "actor_login", "action", "target", "outcome", "details")
        assert {k: a[k] for k in same} == {k: b[k] for k in same}
        assert b["prev_hash"] == a["hash"]
    with rt.session() as s:
        assert verify_chain(s).ok  # the quick path's rows are links of the one chain


def test_the_quick_path_imports_neither_typer_nor_the_orm(arc: Archive) -> None:
    arc.put(arc.ann, [message(1, subject="Walrus sighting")])
    arc.archive.lake.close()
    assert quick("search", "index", "--org", "acme").returncode == 0
    probe = ("import sys\nsys.argv = ['mailark', 'search', 'query', '--org', 'acme', 'walrus', '--json']\n"
             "from mailark.cli import main\nmain()\n"
             f"print('LOADED', sorted({{m.split('.')[0] for m in sys.modules if m.startswith({NOT_LOADED!r})}}))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    doc, loaded = done.stdout.rsplit("LOADED", 1)
    assert json.loads(doc)["total"] == 1
    assert loaded.strip() == "[]"


def test_refusals_come_from_the_typer_command_and_are_not_audited_twice(arc: Archive, rt) -> None:  # type: ignore[no-untyped-def]
    arc.archive.lake.close()
    r = quick("search", "query", "--org", "nosuch", "walrus")
    assert r.returncode == 1 and "no organization named 'nosuch'" in r.stderr
    r = quick("search", "query", "--org", "acme", '"unclosed')
    assert r.returncode == 1 and "quote is not closed" in r.stderr
    r = quick("search", "query", "--org", "acme", "--page", "0", "walrus")
    assert r.returncode == 1 and "page starts at 1" in r.stderr
    assert _search_events(rt) == []


def test_a_control_plane_it_does_not_know_is_handed_over_untouched(arc: Archive, rt) -> None:  # type: ignore[no-untyped-def]
    """A schema that is not the newest (the full command upgrades it first): no row is written."""
    path = rt.settings.resolved_control_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as con:
        (version,) = con.execute("SELECT version_num FROM alembic_version").fetchone()
        con.execute("UPDATE alembic_version SET version_num = 'older'")
    try:
        assert run_quick(QueryArgs(org="acme", text="walrus", as_json=True)) is False
    finally:
        with sqlite3.connect(path) as con:
            con.execute("UPDATE alembic_version SET version_num = ?", (version,))
    assert _search_events(rt) == []
    assert run_quick(QueryArgs(org="acme", text="walrus", as_json=True)) is True
    assert len(_search_events(rt)) == 1
