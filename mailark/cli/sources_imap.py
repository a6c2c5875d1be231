"""`mailark source add-imap` and `mailark source sync-imap`: IMAP source profiles from the CLI.

Registered by the lead's `mailark source` command group with `register(source_app)`; this module
imports nothing from `mailark.cli`. Same contract as the other commands: exit 0 on success, 1 on a
refusal or failure (message on stderr), 2 on wrong usage; `--json` prints one JSON document.
Passwords never come from argv: a prompt, `--password-stdin`, or $MAILARK_IMAP_PASSWORD.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from mailark.config.settings import get_settings

err = Console(stderr=True)
out = Console()

PASSWORD_ENV = "MAILARK_IMAP_PASSWORD"

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
OrgOpt = Annotated[str, typer.Option("--org", help="Organization name.")]


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def emit(doc: Any, as_json: bool, text: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(doc, default=str, ensure_ascii=False) + "\n")
    else:
        out.print(text, highlight=False, soft_wrap=True)


def _read_ca(path: str | None) -> str | None:
    """The CA file's text: the source stores the certificate itself, never a path on the server."""
    if not path:
        return None
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read(200_000)
    except OSError as e:
        fail(f"cannot read the CA file {path!r} ({e.strerror}): give a PEM file of the CA certificate")


def _read_secret(password_stdin: bool, auth: str) -> str:
    what = "OAuth2 access token" if auth == "xoauth2" else "password"
    if password_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    elif os.environ.get(PASSWORD_ENV):
        value = os.environ[PASSWORD_ENV]
    elif sys.stdin.isatty():
        value = typer.prompt(f"IMAP {what}", hide_input=True)
    else:
        fail(f"no {what} given: use --password-stdin, ${PASSWORD_ENV} or a terminal prompt (never the command line)")
    if not value:
        fail(f"the {what} is empty")
    return value


def add_imap(
    name: Annotated[str, typer.Argument(help="A name for the source (unique in the organization).")],
    org: OrgOpt,
    host: Annotated[str, typer.Option("--host", help="IMAP server host name or address.")],
    username: Annotated[str, typer.Option("--username", help="Login name (whole-server mode: the admin / master user).")],
    mailbox: Annotated[str | None, typer.Option("--mailbox", help="Archive mailbox address this account fills.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 993 for ssl, 143 otherwise).")] = None,
    security: Annotated[str, typer.Option("--security", help="ssl | starttls | plain")] = "ssl",
    verify_cert: Annotated[bool, typer.Option("--verify-cert/--no-verify-cert", help="Check the server certificate.")] = True,
    ca_file: Annotated[str | None, typer.Option("--ca-file", help="PEM file (on this machine) of the CA to trust for this server; its text is stored in the source.")] = None,
    auth: Annotated[str, typer.Option("--auth", help="password | xoauth2")] = "password",
    include: Annotated[list[str] | None, typer.Option("--include", help="Folder pattern to archive (repeatable; default all).")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Folder pattern to leave out (repeatable).")] = None,
    server_mode: Annotated[bool, typer.Option("--server-mode", help="Whole server: log in as each account through the admin.")] = False,
    account: Annotated[list[str] | None, typer.Option("--account", help="Whole-server mode: an account address (repeatable).")] = None,
    all_users: Annotated[bool, typer.Option("--all-users", help="Whole-server mode: every user archive mailbox of the organization.")] = False,
    master_separator: Annotated[str, typer.Option("--master-separator", help="Joins account and admin in one login.")] = "*",
    interval: Annotated[int, typer.Option("--interval", help="Seconds between runs.")] = 900,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password (or token) from stdin.")] = False,
    test: Annotated[bool, typer.Option("--test/--no-test", help="Test connection and login before saving.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Add an IMAP source: one account, or a whole server through a master user."""
    from mailark.control.orgs import ControlError
    from mailark.control.principals import Principal
    from mailark.control.sources import create_source
    from mailark.runtime import open_runtime
    from mailark.sources.errors import SourceError
    from mailark.sources.imap import ImapConfig, ImapSecret, probe

    raw: dict[str, Any] = {
        "host": host, "port": port, "security": security, "verify_cert": verify_cert, "ca_pem": _read_ca(ca_file),
        "username": username, "auth": auth, "include": include or ["*"], "exclude": exclude or [],
        "mode": "server" if server_mode else "account", "mailbox": mailbox, "accounts": account or [],
        "all_user_mailboxes": all_users, "master_separator": master_separator,
    }
    try:
        config = ImapConfig.model_validate({k: v for k, v in raw.items() if v is not None})
    except ValueError as e:
        fail(f"invalid IMAP source: {e}")
    value = _read_secret(password_stdin, config.auth)
    secret = ImapSecret(token=value) if config.auth == "xoauth2" else ImapSecret(password=value)
    tested = None
    if test:
        try:
            tested = probe(config, secret)
        except SourceError as e:
            fail(f"not saved: {e} (use --no-test to save it anyway)")
    rt = open_runtime(get_settings())
    try:
        with rt.session(write=True) as s:
            v = create_source(s, Principal.deployment_operator(), org, "imap", name, config.public(),
                              secret.stored(), rt.master_key, interval_seconds=interval)
    except ControlError as e:
        fail(str(e))
    finally:
        rt.close()
    doc = {"name": v.name, "id": v.id, "org": org, "kind": "imap", "config": v.config,
           "interval_seconds": v.interval_seconds, "test": tested}
    emit(doc, as_json, f"added IMAP source {v.name} to {org} ({config.endpoint}, every {interval} s)"
          + (f"\n{tested}" if tested else ""))


def sync_imap(
    name: Annotated[str, typer.Argument(help="The source's name.")],
    org: OrgOpt,
    as_json: JsonOpt = False,
) -> None:
    """Run an IMAP source now (as a flow when a Prefect server is up, else directly)."""
    from mailark.control import audit
    from mailark.control.orgs import ControlError
    from mailark.control.principals import Principal
    from mailark.control.sources import get_source
    from mailark.runtime import open_runtime
    from mailark.operations.prefect_server import is_up, prefect_env

    settings = get_settings()
    rt = open_runtime(settings)
    try:
        with rt.session(write=True) as s:
            v = get_source(s, Principal.deployment_operator(), org, name)
            if v.kind != "imap":
                raise ControlError(f"source {name!r} is a {v.kind} source, not imap")
            audit.record(s, Principal.deployment_operator(), "source.sync", org_id=v.org_id, target=name,
                         details={"kind": "imap"})
    except ControlError as e:
        rt.close()
        fail(str(e))
    if is_up(settings.prefect_api_url):
        rt.close()
        settings.ensure_dirs()
        settings.prefect_home.mkdir(parents=True, exist_ok=True)
        os.environ.update(prefect_env(settings))
        from mailark.flows.imap_sync import imap_profile
        from mailark.sources.errors import SourceError

        try:
            doc = imap_profile(v.id, name, org)
        except SourceError as e:
            fail(str(e))
    else:
        from mailark.sources.imap.sync import sync_profile

        try:
            result = sync_profile(rt, v.id)
        except ControlError as e:
            fail(str(e))
        finally:
            rt.close()
        doc = result.as_dict()
    text = (f"{name}: {doc['status']}; {doc['seen']} new message(s) seen, {doc['fetched']} downloaded, "
            f"{doc['archived']} archived, {doc['duplicates']} duplicates, {doc['quarantined']} quarantined, "
            f"{doc['deferred']} deferred, {doc['moved']} moved, {doc['renamed']} folder(s) renamed ({doc['seconds']} s)")
    if doc.get("paused_reason"):
        text += f"\npaused: {doc['paused_reason']}"
    emit(doc, as_json, text)
    if doc["status"] in ("failed", "partial"):
        err.print(f"[bold red]error:[/] {doc['error']}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def register(source_app: typer.Typer) -> None:
    """Add `add-imap` and `sync-imap` to the `mailark source` command group."""
    source_app.command("add-imap")(add_imap)
    source_app.command("sync-imap")(sync_imap)
