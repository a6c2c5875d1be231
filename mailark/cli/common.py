"""What every command shares: the output contract, the options and the runtime.

Exit status 0 on success, 1 on a refusal or failure (the message on stderr in words that say what
to do; a damaged file, a full disk or an I/O error is one such line, never a traceback), 2 on wrong
usage, 3 when an export left out damaged messages; with `--json`, stdout holds exactly one JSON document. The CLI on the
server acts as the deployment operator; every change is audited like one made through the API.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from mailark.cli.json_output import json_default, print_json  # noqa: F401 - the commands import them from here
from mailark.config.settings import get_settings

err = Console(stderr=True)
out = Console()
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
OrgOpt = Annotated[str, typer.Option("--org", help="Organization name.")]
UserOpt = Annotated[str | None, typer.Option("--user", help="A user's login (name@domain).")]
GroupOpt = Annotated[str | None, typer.Option("--group", help="A group's name.")]


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def read_ca_file(path: str | None) -> str | None:
    """The text of a CA certificate file on this machine (`--ca-file`): profiles store the PEM itself,
    never a path on the archive's server (mailark.control.trust)."""
    if not path:
        return None
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read(200_000)
    except OSError as e:
        fail(f"cannot read the CA file {path!r} ({e.strerror}): give a PEM file of the CA certificate")


def os_failure(e: OSError) -> str:
    """A file the command needed could not be used: which, why, and (inside the home) what to do."""
    home = get_settings().home
    what = f"{e.strerror or e}: {e.filename}" if e.filename else str(e)
    if e.filename and str(e.filename).startswith(str(home)):
        return (f"the mailark home {home} cannot be used ({what}): point MAILARK_HOME at the home's directory, "
                f"or restore the home from a backup (mailark restore)")
    return what


def guard(fn: Callable[[], T]) -> T:
    """Turn the errors we expect into a clear message and exit status 1."""
    from mailark.catalog.lake import LakeError
    from mailark.control.orgs import ControlError
    from mailark.sources.errors import SourceError
    from mailark.storage.crypto import IntegrityError
    from mailark.storage.keys import KeyUnavailable
    from mailark.storage.objects import ObjectStoreError

    try:
        return fn()
    except (ControlError, LakeError, ObjectStoreError, KeyUnavailable, IntegrityError, SourceError) as e:
        fail(str(e))
    except Exception as e:
        explained = explain_failure(e)
        if explained is None:
            if isinstance(e, OSError):
                fail(os_failure(e))
            raise
        fail(explained)


def explain_failure(e: BaseException) -> str | None:
    """A damaged file, a full disk, an I/O error: one line saying what and what to do (else None)."""
    from mailark.operations.failures import explain

    return explain(e)


def usable_home():  # type: ignore[no-untyped-def]
    """The settings, once the home's folders are there (made if missing); a home that cannot be used exits 1."""
    settings = get_settings()
    try:
        settings.ensure_dirs()
    except OSError as e:
        fail(os_failure(e))
    return settings


def cli_runtime():  # type: ignore[no-untyped-def]
    from mailark.runtime import open_runtime

    return open_runtime(usable_home())


def run_with_runtime(work: Callable[[Any], T]) -> T:
    """`work(runtime)` under `guard` (one line for every known failure), the runtime closed after."""
    rt = cli_runtime()
    try:
        return guard(lambda: work(rt))
    finally:
        rt.close()


def prefect_running() -> bool:
    """Is this deployment's Prefect server up? If so, point Prefect's client at it."""
    from mailark.operations.prefect_server import is_up, prefect_env

    settings = get_settings()
    if not is_up(settings.prefect_api_url):
        return False
    settings.ensure_dirs()
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ.update(prefect_env(settings))
    return True


def act(work: Callable[[Session, Any, Any], Any]) -> Any:
    """Run `work(session, operator principal, runtime)` in one transaction; refusals exit 1."""
    from mailark.control.orgs import ControlError
    from mailark.control.principals import Principal
    from mailark.runtime import open_runtime

    rt = open_runtime(usable_home())
    try:
        with rt.session() as s:
            return work(s, Principal.deployment_operator(), rt)
    except ControlError as e:
        fail(str(e))
    except OSError as e:  # a home moved away, a file where the home should be, a disk that went read-only
        fail(os_failure(e))
    finally:
        rt.close()


def emit(doc: Any, as_json: bool, text: str | Callable[[], None]) -> None:
    if as_json:
        print_json(doc)
    elif callable(text):
        text()
    else:
        out.print(text, highlight=False, soft_wrap=True)


def table(rows: list[dict[str, Any]], *cols: str) -> Callable[[], None]:
    def show() -> None:
        from rich.table import Table  # imported when a table is printed: a --json run does without it

        t = Table(*cols)
        for r in rows:
            t.add_row(*[", ".join(map(str, v)) if isinstance(v, list) else ("" if v is None else str(v)) for v in (r[c] for c in cols)])
        out.print(t)
    return show
