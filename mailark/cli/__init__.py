"""The `mailark` command: one module per command group, imported only when one of its commands runs
(the table of names and help lines is mailark.cli.commands; see mailark.cli.lazy).

Exit status: 0 on success (quarantined messages included), 1 on failure (also damage found by
`mailark scrub`/`maintain`), 2 on wrong usage, 3 when an export wrote every intact message but left
out damaged ones (listed in its manifest and DAMAGED.txt).
Errors go to stderr in words a person understands; with --json, stdout holds exactly one JSON
document and progress goes to stderr. Without a running Prefect server the commands run the
plain code (no temporary server is started); with one, work runs as a flow and shows in its UI.
"""

from __future__ import annotations

import sys

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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        from mailark.cli.common import err

        err.print("interrupted")
        sys.exit(130)
    except Exception as e:  # a damaged file, a full disk, an I/O error: one line, not a traceback
        from mailark.cli.common import err, explain_failure, os_failure

        explained = explain_failure(e)
        if explained is None and isinstance(e, OSError):  # a home that cannot be used, a file that went away
            explained = os_failure(e)
        if explained is None:
            raise
        err.print(f"[bold red]error:[/] {explained}", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
