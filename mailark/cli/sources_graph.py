"""`mailark source add-m365` and `mailark source sync-m365`: Microsoft 365 mail sources from the CLI.

Registered by the `source` command group with `register(source_app)`. Same contract as the rest
of the CLI: exit 0 on success, 1 on a refusal or failure (message on stderr), 2 on wrong usage;
`--json` prints exactly one JSON document. The client secret never comes from the command line
(it would sit in shell history and `ps`): it is read from an environment variable, from stdin,
or from a hidden prompt.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from mailark.cli.common import JsonOpt, OrgOpt, err, fail, guard, out, prefect_running, print_json, usable_home

SECRET_ENV = "MAILARK_M365_CLIENT_SECRET"


def register(source_app: typer.Typer) -> None:
    source_app.command("add-m365")(add_m365)
    source_app.command("sync-m365")(sync_m365)








def _read_secret(secret_env: str | None, secret_stdin: bool) -> str:
    if secret_env and secret_stdin:
        fail("give the client secret one way: --secret-env or --secret-stdin")
    if secret_stdin:
        value = sys.stdin.readline().strip()
    elif secret_env:
        value = os.environ.get(secret_env, "").strip()
        if not value:
            fail(f"environment variable {secret_env} is empty or not set")
    elif os.environ.get(SECRET_ENV):
        value = os.environ[SECRET_ENV].strip()
    elif sys.stdin.isatty():
        value = typer.prompt("Client secret of the app registration", hide_input=True).strip()
    else:
        fail(f"no client secret: set {SECRET_ENV}, or use --secret-env VAR or --secret-stdin")
    if not value:
        fail("the client secret is empty")
    return value


def add_m365(
    name: Annotated[str, typer.Argument(help="A name for this source within the organization.")],
    org: OrgOpt,
    tenant_id: Annotated[str, typer.Option("--tenant-id", help="Directory (tenant) id or the tenant's domain.")],
    client_id: Annotated[str, typer.Option("--client-id", help="Application (client) id of the app registration.")],
    authority_url: Annotated[str, typer.Option("--authority-url", help="Identity platform (national clouds differ).")]
    = "https://login.microsoftonline.com",
    graph_url: Annotated[str, typer.Option("--graph-url", help="Microsoft Graph endpoint.")]
    = "https://graph.microsoft.com/v1.0",
    interval: Annotated[int, typer.Option("--interval", help="Seconds between runs.")] = 600,
    secret_env: Annotated[str | None, typer.Option("--secret-env", help="Read the client secret from this "
                                                   "environment variable.")] = None,
    secret_stdin: Annotated[bool, typer.Option("--secret-stdin", help="Read the client secret from stdin.")] = False,
    test: Annotated[bool, typer.Option("--test/--no-test", help="Test the connection before saving.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Add a Microsoft 365 tenant as a mail source (app-only Graph access; the secret is stored encrypted)."""
    from mailark.control import sources
    from mailark.control.principals import Principal
    from mailark.runtime import open_runtime
    from mailark.sources.graph.probe import probe

    secret = {"client_secret": _read_secret(secret_env, secret_stdin)}
    config = {"tenant_id": tenant_id, "client_id": client_id, "authority_url": authority_url, "graph_url": graph_url}
    rt = open_runtime(usable_home())
    guard(lambda: rt.org(org))
    tested = guard(lambda: probe(config, secret, rt.settings.graph)) if test else None
    if tested:
        err.print(tested, highlight=False)

    def create() -> dict[str, Any]:
        with rt.session(write=True) as s:
            return sources.create_source(s, Principal.deployment_operator(), org, "graph", name, config, secret,
                                         rt.master_key, interval_seconds=interval).as_dict()

    doc = guard(create)
    doc["tested"] = tested
    if as_json:
        print_json(doc)
    else:
        out.print(f"added Microsoft 365 source {name} to {org}: tenant {tenant_id}, every {interval} s", highlight=False)


def sync_m365(name: Annotated[str, typer.Argument(help="The source's name.")], org: OrgOpt,
              as_json: JsonOpt = False) -> None:
    """Run a Microsoft 365 source now (as the m365-sync flow when a Prefect server is up)."""
    from mailark.control import sources
    from mailark.control.principals import Principal
    from mailark.runtime import open_runtime

    rt = open_runtime(usable_home())

    def find() -> str:
        from mailark.control import audit

        with rt.session(write=True) as s:
            v = sources.get_source(s, Principal.deployment_operator(), org, name)
            if v.kind != "graph":
                fail(f"source {name!r} is a {v.kind} source: use its own sync command")
            audit.record(s, Principal.deployment_operator(), "source.run", org_id=v.org_id, target=name,
                         details={"kind": v.kind, "on_demand": True})
        return v.id

    pid = guard(find)
    if prefect_running():
        from mailark.flows.graph_sync import m365_sync

        doc = guard(lambda: m365_sync(org=org, profile=name))[0]
    else:
        from mailark.sources.graph.sync import sync_profile

        doc = guard(lambda: sync_profile(rt, pid)).as_dict()
    rt.close()
    if as_json:
        print_json(doc)
    else:
        out.print(f"{name} ({org}): {doc['status']}: {doc['mailboxes']} mailboxes, {doc['folders']} folders; "
                  f"{doc['seen']} seen, {doc['archived']} archived, {doc['duplicates']} duplicates, "
                  f"{doc['quarantined']} quarantined, {doc['deferred']} deferred ({doc['seconds']} s)", highlight=False)
    if doc["status"] == "failed":
        fail(doc["error"])
    if doc.get("error"):
        err.print(f"[yellow]warning:[/] {doc['error']}", highlight=False, soft_wrap=True)
