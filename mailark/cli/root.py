"""The root Typer app of `mailark`: the lazy command table and `--version` (mailark.cli.main runs it)."""

from __future__ import annotations

from typing import Annotated

import typer

from mailark.cli.commands import COMMANDS
from mailark.cli.lazy import LazyGroup


class _Commands(LazyGroup):
    """`mailark`'s commands, each imported only when it runs (see mailark.cli.lazy)."""

    table = COMMANDS


app = typer.Typer(cls=_Commands, no_args_is_help=True, add_completion=False,
                  help="mailark: multi-tenant email archive.")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"mailark {version('mailark')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            print("mailark (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False,
) -> None:
    """mailark: multi-tenant email archive."""
