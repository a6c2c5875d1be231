"""A command group that imports a command's module only when that command runs.

Importing every command group costs about a second (SQLAlchemy, pydantic settings, the control
plane's models), which `mailark --help` and every other command paid before doing anything. The
group lists its commands from a static table (`mailark.cli.commands.COMMANDS`: name, module and
the one-line help `--help` shows); a test checks the table against the commands themselves.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup, _click as click  # Typer's own (vendored) click

from mailark.cli import end_startup
from mailark.cli.commands import LazyCommand

__all__ = ["LazyCommand", "LazyGroup", "load_commands", "register_module"]


def register_module(module: str, app: typer.Typer) -> None:
    """Run `mailark.cli.<module>.register(app)`: what adds the module's commands."""
    importlib.import_module(f"mailark.cli.{module}").register(app)


def load_commands(module: str) -> dict[str, click.Command]:
    """The click commands (and groups) a command module registers, in its order."""
    app = typer.Typer()
    register_module(module, app)
    return dict(typer.main.get_group(app).commands)


class LazyGroup(TyperGroup):
    """A Typer group whose subcommands come from `table` and are imported on first use."""

    table: tuple[LazyCommand, ...] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._by_name = {c.name: c for c in self.table}
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [c.name for c in self.table] + [n for n in self.commands if n not in self._by_name]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = self._by_name.get(cmd_name)
        if entry is None:
            return None
        if self._listing:  # the help page needs the name and the line, not the command
            return TyperCommand(entry.name, help=entry.help)
        for name, cmd in load_commands(entry.module).items():
            self.commands.setdefault(name, cmd)
        end_startup()
        return self.commands.get(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        if args and not args[0].startswith("-") and args[0] not in self._by_name and args[0] not in self.commands:
            # An unknown name: Typer words the error and suggests close names from `self.commands`,
            # so it must hold every name (none of these is run: the name matches none of them).
            for c in self.table:
                self.commands.setdefault(c.name, TyperCommand(c.name, help=c.help))
        return super().resolve_command(ctx, args)
