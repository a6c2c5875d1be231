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

import gc
import os
import sys
from typing import Any


def __getattr__(name: str) -> Any:
    """`mailark.cli.app`, the root Typer app, imported on first use (`mailark --help` does without it)."""
    if name == "app":
        from mailark.cli.root import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    # The start-up imports (SQLAlchemy, pydantic, the control models) make a few hundred thousand
    # objects that live until the exit and hardly any garbage, yet every full collection during
    # them walks all of it (0.04-0.05 s of an import's CPU). Collection resumes once the command's
    # modules are in (`end_startup`).
    gc.disable()
    # pydantic looks for plugins among the entry points of every installed distribution when it
    # builds its first model (0.015 s); mailark uses none. Set the variable (even empty) to keep them.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        _run()
    finally:
        # The process ends here. Its last garbage collection would walk every object the imports
        # made only to free memory the exit frees anyway; frozen, they are left to it. Files,
        # connections and indexes are closed by the commands themselves before this point.
        gc.freeze()


def end_startup() -> None:
    """The command's modules are imported: what exists now lives until the exit. Frozen, the
    collections of the command's own work do not walk it again. Only after `main` paused the
    collector (a test process that runs commands in process keeps its own collector as it is)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _run() -> None:
    if sys.argv[1:] == ["--help"]:  # the top-level page, from the table alone (mailark.cli.help_page)
        from mailark.cli.help_page import page_width, render

        sys.stdout.write(render(page_width()))
        return
    try:
        if sys.argv[1:3] == ["search", "query"]:  # the quick path (mailark.cli.search_query); else Typer's command
            from mailark.cli.search_query import parse_quick, run_quick

            quick = parse_quick(sys.argv[3:])
            end_startup()
            if quick is not None and run_quick(quick):
                return
        from mailark.cli.root import app

        app()
    except KeyboardInterrupt:
        from mailark.cli.common import err

        err.print("interrupted")
        sys.exit(130)
    except Exception as e:  # a bad setting, a damaged file, a full disk, an I/O error: one line, not a traceback
        from mailark.cli.common import err, explain_failure, os_failure
        from mailark.config.environment import SettingsError

        explained = str(e) if isinstance(e, SettingsError) else explain_failure(e)
        if explained is None and isinstance(e, OSError):  # a home that cannot be used, a file that went away
            explained = os_failure(e)
        if explained is None:
            raise
        err.print(f"[bold red]error:[/] {explained}", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
