"""`mailark` imports a command's module only when that command runs; its help page comes from a
static table (mailark.cli.commands), which must say what the modules themselves register."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import typer
from typer.core import TyperGroup, _click as click  # Typer's own (vendored) click

import mailark.cli
from mailark.cli.commands import COMMANDS
from mailark.cli.lazy import load_commands

# Modules whose `register` adds commands under another module's group (`mailark source ...`).
SUBGROUP_MODULES = {"sources_graph", "sources_imap"}
# What a command module costs to import; `mailark --help` must not pay for it.
HEAVY = ("sqlalchemy", "duckdb", "pydantic_settings", "mailark.control", "mailark.config.settings", "tantivy")


def listed_help(cmd: click.Command) -> str:
    """The line Typer's help page shows for a command: the first paragraph of its help."""
    text = inspect.cleandoc(cmd.short_help or cmd.help or "").split("\n\n")[0]
    return text.replace("\n", " ").strip()


def test_the_table_says_what_the_modules_register() -> None:
    names = [m.name for m in pkgutil.iter_modules(mailark.cli.__path__)
             if m.name not in SUBGROUP_MODULES and not m.name.startswith("_")]  # __main__ would run the CLI
    modules = sorted(n for n in names if hasattr(importlib.import_module(f"mailark.cli.{n}"), "register"))
    assert sorted({c.module for c in COMMANDS}) == modules, "a command module is missing from mailark.cli.commands"
    real = {name: (m, cmd) for m in modules for name, cmd in load_commands(m).items()}
    assert len({c.name for c in COMMANDS}) == len(COMMANDS)
    assert sorted(c.name for c in COMMANDS) == sorted(real), "the table and the registered commands differ"
    for c in COMMANDS:
        module, cmd = real[c.name]
        assert c.module == module, f"{c.name} is registered by mailark.cli.{module}, not {c.module}"
        assert c.help == listed_help(cmd), f"the help line of {c.name!r} differs from its command's"


def test_help_lists_every_command_without_importing_them() -> None:
    probe = ("import sys\nfrom mailark.cli import app\n"
             "try:\n    app(['--help'], prog_name='mailark')\nexcept SystemExit:\n    pass\n"
             f"print('LOADED', [m for m in sys.modules if m.startswith({HEAVY!r})])\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    page, loaded = done.stdout.rsplit("LOADED", 1)
    assert loaded.strip() == "[]", f"mailark --help imported {loaded.strip()}"
    for c in COMMANDS:
        assert f" {c.name} " in page and c.help in page, c.name


def test_a_command_runs_and_a_typo_is_answered_as_before() -> None:
    from typer.testing import CliRunner

    from mailark.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["search", "query", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "--per-page" in r.stdout and "--org" in r.stdout
    r = runner.invoke(app, ["serch"], env={"COLUMNS": "200"})
    assert r.exit_code == 2 and "No such command 'serch'. Did you mean 'search'" in r.output


def test_every_command_is_reachable() -> None:
    """Walking the group with click's own API finds each command of the table, and its subcommands."""
    root = typer.main.get_command(mailark.cli.app)
    assert isinstance(root, TyperGroup)
    ctx = click.Context(root)
    names = root.list_commands(ctx)
    assert names == [c.name for c in COMMANDS]
    for name in names:
        cmd = root.get_command(ctx, name)
        assert cmd is not None and cmd.name == name
    assert "query" in root.get_command(ctx, "search").list_commands(ctx)  # type: ignore[union-attr]


def test_a_search_opens_neither_the_catalogue_nor_alembic(home) -> None:  # type: ignore[no-untyped-def]
    """`mailark search query` reads the control plane and the index only: DuckDB, the catalogue and
    Alembic (the control plane is already at its newest schema) stay unimported."""
    import os

    env = os.environ.copy()
    assert subprocess.run([sys.executable, "-m", "mailark.cli", "org", "create", "acme"], env=env,
                          capture_output=True, timeout=300).returncode == 0
    probe = ("import sys\nfrom mailark.cli import app\n"
             "try:\n    app(['search', 'query', '--org', 'acme', 'report', '--json'], prog_name='mailark')\n"
             "except SystemExit as e:\n    assert not e.code, e.code\n"
             "print('LOADED', [m for m in sys.modules if m.startswith(('duckdb', 'alembic', 'mailark.catalog.lake'))])\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    result, loaded = done.stdout.rsplit("LOADED", 1)
    assert '"total": 0' in result and loaded.strip() == "[]", loaded


def test_the_collector_pauses_for_the_imports_and_runs_for_the_command(home) -> None:  # type: ignore[no-untyped-def]
    """`main` turns the garbage collector off while the command's modules are imported, then freezes
    what they made and turns it back on before the command runs; a process that runs commands
    through the app itself (a test, an embedding program) keeps its collector untouched."""
    import os

    probe = (
        "import gc, sys\n"
        "import mailark.cli as cli, mailark.cli.lazy as lazy\n"
        "seen = []\n"
        "def spy():\n"
        "    seen.append(('before', gc.isenabled()))\n"
        "    cli.end_startup()\n"
        "    seen.append(('after', gc.isenabled(), gc.get_freeze_count() > 20000, 'sqlalchemy.orm' in sys.modules))\n"
        "lazy.end_startup = spy\n"
        "sys.argv = ['mailark', 'org', 'list', '--json']\n"
        "try:\n    cli.main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('SEEN', seen)\n"
        "gc.unfreeze(); gc.enable(); cli.end_startup()\n"
        "print('EMBEDDED', gc.isenabled(), gc.get_freeze_count())\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=300,
                          env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    seen = done.stdout.split("SEEN", 1)[1].split("EMBEDDED")[0].strip()
    assert seen == "[('before', False), ('after', True, True, True)]", seen
    assert done.stdout.rsplit("EMBEDDED", 1)[1].strip() == "True 0"
