"""`mailark hold add|release|list`: legal holds (Compliance). A held copy cannot be deleted by
retention or by compliance deletion until every hold covering it is released; holds and releases
are audited. The CLI acts as the deployment operator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailark.cli.common import JsonOpt, OrgOpt, emit, out
from mailark.cli.retention import _with_rt

Reason = Annotated[str, typer.Option("--reason", help="Why (goes into the audit log).")]


def register(app: typer.Typer) -> None:
    hold_app = typer.Typer(no_args_is_help=True, help="Legal holds: keep mail of a case whatever retention says.")
    app.add_typer(hold_app, name="hold")

    @hold_app.command("add")
    def add(case: str, org: OrgOpt, reason: Reason,
            mailbox: Annotated[list[str] | None, typer.Option("--mailbox", help="Hold these archive mailboxes (repeat).")] = None,
            query: Annotated[str | None, typer.Option("--query", help="Hold what this search matches, now and later.")] = None,
            as_json: JsonOpt = False) -> None:
        """Place a hold on mailboxes or on a search query (mail arriving later that matches is held too)."""
        from mailark.operations.retention import add_hold

        doc = _with_rt(lambda rt, op: add_hold(rt, op, org, case, reason, mailboxes=mailbox or (), query=query))
        emit(doc, as_json, f"hold {case!r} placed on {', '.join(doc['mailboxes']) or doc['query']}")

    @hold_app.command("release")
    def release(case: str, org: OrgOpt, reason: Reason, as_json: JsonOpt = False) -> None:
        """Release a case's hold (copies it covered fall back to the retention policies)."""
        from mailark.operations.retention import end_hold

        doc = _with_rt(lambda rt, op: end_hold(rt, op, org, case, reason))
        emit(doc, as_json, f"hold {case!r} released")

    @hold_app.command("list")
    def list_(org: OrgOpt, released: Annotated[bool, typer.Option("--released", help="Released holds too.")] = False,
              as_json: JsonOpt = False) -> None:
        """Holds, each with the copies and bytes it covers now."""
        from mailark.operations.retention import list_holds

        rows = _with_rt(lambda rt, op: list_holds(rt, op, org, released=released))

        def show() -> None:
            for h in rows:
                size = f"{h['covers']['copies']} copies, {h['covers']['bytes']:,} bytes" if h["covers"] else "released"
                out.print(f"{h['case']}: {', '.join(h['mailboxes']) or h['query']}; {size}; placed {h['placed_at']:%Y-%m-%d} "
                          f"by {h['placed_by']}: {h['reason']}", highlight=False)
            if not rows:
                out.print("no legal holds")
        emit(rows, as_json, show)

    @hold_app.command("export")
    def export(case: str, org: OrgOpt,
               out_file: Annotated[Path, typer.Option("--out", help="The zip to write (a sidecar FILE.zip.sha256 is written next to it).")],
               as_json: JsonOpt = False) -> None:
        """Export a case's held copies for e-discovery: .eml files, manifest.csv and a chain-of-custody sheet."""
        from mailark.operations.hold_export import export_hold

        doc = _with_rt(lambda rt, op: export_hold(rt, op, org, case, out_file))

        def show() -> None:
            out.print(f"case {case!r}: {doc['messages']} messages, {doc['quarantined']} quarantined items, "
                      f"{doc['bytes']:,} bytes written to {doc['path']}", highlight=False)
            if doc["damaged"]:
                out.print(f"{doc['damaged']} damaged copies could not be read back and are listed in DAMAGED.txt", highlight=False)
            out.print(f"exported by {doc['exported_by']} at {doc['exported_at']} (UTC)", highlight=False)
            for f in doc["files"]:
                out.print(f"  {f['sha256']}  {f['path']}", highlight=False)
            out.print(f"SHA-256 of the zip: {doc['zip_sha256']} (also in {doc['sidecar']})", highlight=False)
        emit(doc, as_json, show)
