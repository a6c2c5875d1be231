"""`mailark journal ...`: the SMTP journal endpoint, journal and SMTP-import addresses, the drain."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Annotated, Any

import typer

from mailark.cli import common as cli

journal_app = typer.Typer(no_args_is_help=True, help="SMTP journaling and SMTP import (the journal endpoint).")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
OrgOpt = Annotated[str, typer.Option("--org", help="Organization name.")]


def register(app: typer.Typer) -> None:
    app.add_typer(journal_app, name="journal")




@journal_app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default: settings smtp_host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings smtp_port, 2525; 0 = any free).")] = None,
) -> None:
    """Run the SMTP journal endpoint in the foreground until Ctrl-C or SIGTERM."""
    import logging

    from mailark.config.settings import get_settings
    from mailark.sources.journal.endpoint import EndpointError, JournalEndpoint
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from mailark.runtime import open_runtime

    settings = get_settings()
    ep = JournalEndpoint(settings, host=host, port=port, runtime=open_runtime(settings), close_runtime=True)
    try:
        h, p = ep.start()
    except EndpointError as e:
        cli.fail(str(e))
    # One line on stdout that supervisors and tests read; logs go to stderr.
    sys.stdout.write(f"journal endpoint listening on {h}:{p}\n")
    sys.stdout.flush()
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    ep.stop()


@journal_app.command("add")
def add(
    org: OrgOpt,
    name: Annotated[str, typer.Option(help="Profile name.")] = "journal",
    address: Annotated[str | None, typer.Option(help="Journal address (default journal@ORG.<journal.domain>).")] = None,
    auth: Annotated[bool, typer.Option("--auth/--no-auth", help="Require SMTP AUTH (after STARTTLS).")] = False,
    allow_network: Annotated[list[str] | None, typer.Option(
        "--allow-network", help="Without --auth: a sender network (CIDR) mail is taken from; repeatable.")] = None,
    allow_any_sender: Annotated[bool, typer.Option(
        "--allow-any-sender", help="Without --auth: take mail from anyone (not recommended).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a journal address (and its journal archive mailbox) for an organization.

    It takes mail only from senders that authenticate (--auth) or from the networks you name."""
    from mailark.control.principals import Principal
    from mailark.sources.journal.profiles import add_journal
    rt = cli.cli_runtime()

    def run() -> dict[str, Any]:
        with rt.session(write=True) as s:
            view, pw = add_journal(s, Principal.deployment_operator(), org, rt.master_key,
                                   rt.settings.journal.domain, name=name, address=address, auth_required=auth,
                                   allow_networks=allow_network, allow_any_sender=allow_any_sender)
            return {"name": view.name, **view.config, "password": pw}

    doc = cli.guard(run)
    _show(doc, as_json, "journal")


@journal_app.command("add-import")
def add_import_(
    org: OrgOpt,
    mailbox: Annotated[str, typer.Option(help="The archive mailbox the import fills (created if new).")],
    name: Annotated[str, typer.Option(help="Profile name.")] = "import",
    address: Annotated[str | None, typer.Option(help="Import address (default import-NAME@ORG.<journal.domain>).")] = None,
    folder: Annotated[str, typer.Option(help="Folder of the imported messages.")] = "Imported",
    as_json: JsonOpt = False,
) -> None:
    """Add an SMTP import address (SMTP AUTH required) that fills one archive mailbox."""
    from mailark.control.principals import Principal
    from mailark.sources.journal.profiles import add_import
    rt = cli.cli_runtime()

    def run() -> dict[str, Any]:
        with rt.session(write=True) as s:
            view, pw = add_import(s, Principal.deployment_operator(), org, rt.master_key, rt.settings.journal.domain,
                                  mailbox=mailbox, name=name, address=address, folder=folder)
            return {"name": view.name, **view.config, "auth_required": True, "password": pw}

    doc = cli.guard(run)
    _show(doc, as_json, "SMTP import")


def _show(doc: dict[str, Any], as_json: bool, what: str) -> None:
    if as_json:
        cli.print_json(doc)
        return
    cli.out.print(f"{what} address [bold]{doc['address']}[/] -> archive mailbox {doc['mailbox']}", highlight=False)
    if doc.get("password"):
        cli.out.print(f"SMTP AUTH user {doc['address']}, password (shown once): {doc['password']}", highlight=False)


@journal_app.command("list")
def list_(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """The organization's journal and import addresses (never their passwords)."""
    from rich.table import Table

    from mailark.control.principals import Principal
    from mailark.control.sources import list_sources
    rt = cli.cli_runtime()

    def run() -> list[dict[str, Any]]:
        with rt.session() as s:
            return [{"name": v.name, "kind": v.kind, **v.config, "enabled": v.enabled, "last_status": v.last_status,
                     "paused_reason": v.paused_reason, "last_counts": v.last_counts}
                    for v in list_sources(s, Principal.deployment_operator(), org) if v.kind in ("journal", "smtp-import")]

    rows = cli.guard(run)
    for r in rows:
        if r.get("allow_any_sender") and not r.get("auth_required"):
            cli.err.print(f"[yellow]warning:[/] {r['address']} takes mail from anyone: require SMTP AUTH or name "
                          "the sender networks (PATCH the source's config: allow_networks)", highlight=False, soft_wrap=True)
    if as_json:
        cli.print_json(rows)
        return
    t = Table("name", "kind", "address", "mailbox", "AUTH", "last drain")
    for r in rows:
        auth = "yes" if r["kind"] == "smtp-import" or r.get("auth_required") else (
            "no (anyone)" if r.get("allow_any_sender") else "no: " + ", ".join(r.get("allow_networks") or []))
        t.add_row(r["name"], r["kind"], r["address"], r["mailbox"], auth,
                  (r["last_status"] or "-") + (f" ({r['paused_reason']})" if r["paused_reason"] else ""))
    cli.out.print(t)


@journal_app.command("drain")
def drain(
    org: Annotated[str | None, typer.Option("--org", help="Only this organization.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Archive the accepted journal and import mail now (the journal-drain flow does it every minute)."""
    from mailark.sources.journal.drain import drain_all, drain_org
    rt = cli.cli_runtime()

    def run() -> list[dict[str, Any]]:
        results = [drain_org(rt, rt.org(org))] if org else drain_all(rt)
        return [r.as_dict() for r in results]

    docs = cli.guard(run)
    if as_json:
        cli.print_json(docs)
        return
    if not docs:
        cli.out.print("no drops waiting")
    for d in docs:
        cli.out.print(f"{d['org']}: {d['drops']} drop(s), {d['removed']} archived and removed, {d['kept']} kept; "
                      f"{d['archived']} copies archived, {d['duplicates']} duplicates, {d['quarantined']} quarantined, "
                      f"{d['deferred']} deferred")
        for p in d["problems"]:
            cli.err.print(f"  {p}")
