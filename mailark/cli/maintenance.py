"""`mailark scrub` and `mailark maintain`: what the nightly `maintain-archive` flow does, run now.

Both show a progress bar on stderr and print a report (`--json`: one JSON document). Exit status 1
when damage is found (an object or catalogue file that fails its check, or objects of an
organization the control plane does not know), so a cron job or a monitoring probe notices.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mailark.cli.common import JsonOpt, cli_runtime, err, guard, out, print_json


def register(app: typer.Typer) -> None:
    app.command("scrub")(scrub)
    app.command("maintain")(maintain)


def _progress(total: int):  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("[bold]{task.description}[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err, transient=True, disable=not err.is_terminal)
    task = progress.add_task("starting", total=total)
    started = [False]

    def step(name: str) -> None:
        if started[0]:
            progress.advance(task)
        started[0] = True
        progress.update(task, description=name)

    return progress, step


def _show_failures(scrubs: list[dict[str, Any]], names: dict[str, str]) -> None:
    for s in scrubs:
        for f in s["failures"]:
            org = names.get(s["org_id"], s["org_id"])
            out.print(f"[bold red]DAMAGED[/] {org}: {f['kind']} {f['object_key']}: {f['reason']}", highlight=False,
                      soft_wrap=True)
            for a in f["affected"][:20]:
                out.print(f"    {a['mailbox']} / {a['folder']}: {a['message_id'] or '(no Message-ID)'} {a['date']}",
                          highlight=False, soft_wrap=True)
            if len(f["affected"]) > 20:
                out.print(f"    ... and {len(f['affected']) - 20} more (--json lists them all)")


def _audit(rt: Any, action: str, details: dict[str, object], org_id: str | None = None) -> None:
    from mailark.control import audit
    from mailark.control.principals import Principal

    with rt.session(write=True) as s:
        audit.record(s, Principal.deployment_operator(), action, org_id=org_id, target="maintenance", details=details)


def scrub(
    org: Annotated[str | None, typer.Option("--org", help="Only this organization (default: every one).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Read every object, not only tonight's slice.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check stored objects and the catalogue's files now; name the mail any damage affects (exit 1 if any)."""
    from mailark.operations import maintenance as m

    rt = cli_runtime()

    def run() -> dict[str, object]:
        orgs = [(rt.org(org).id, org)] if org else m.org_names(rt)
        progress, step = _progress(len(orgs))
        scrubs = []
        with progress:
            for _, name in orgs:
                step(f"scrubbing {name}")
                scrubs.append(m.scrub_org(rt, name, full=full).as_dict())
            step("done")
        damaged = sum(len(s["failures"]) for s in scrubs)  # type: ignore[arg-type]
        for (org_id, name), s in zip(orgs, scrubs, strict=True):
            _audit(rt, "maintenance.scrub", {"full": full, "objects": s["objects"], "failures": len(s["failures"])},  # type: ignore[arg-type]
                   org_id)
        return {"scrubs": scrubs, "damaged": damaged, "healthy": not damaged, "names": dict(orgs)}

    try:
        doc = guard(run)
    finally:
        rt.close()
    names = doc.pop("names")
    if as_json:
        print_json(doc)
    else:
        for s in doc["scrubs"]:  # type: ignore[attr-defined]
            out.print(f"{names[s['org_id']]}: {s['catalogue_files']} catalogue files, {s['objects']} objects "  # type: ignore[index]
                      f"({s['bytes']:,} bytes), {s['copies_verified']} copies rebuilt and verified, "
                      f"{len(s['failures'])} damaged", highlight=False)
        _show_failures(doc["scrubs"], names)  # type: ignore[arg-type]
    if doc["damaged"]:
        if not as_json:
            err.print("damage found: restore the named objects or files from a backup (see docs/operators.md, "
                      "'Damage'); the named messages can be imported again from their source")
        raise typer.Exit(1)


def maintain(
    full: Annotated[bool, typer.Option("--full", help="Scrub every object, not only tonight's slice.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the nightly maintenance now: compaction, export expiry, scrub, orphan deletion, audit chain (exit 1 on damage)."""
    from mailark.control import audit
    from mailark.operations import maintenance as m

    rt = cli_runtime()

    def run() -> dict[str, object]:
        progress, step = _progress(m.steps(rt) + 1)
        with progress:
            report = m.run_maintenance(rt, on_step=step, full=full)
            step("verifying the audit chain")
            try:
                chain: dict[str, object] = {"ok": True, **audit.verify_audit_chain(rt.session).as_dict()}
            except audit.AuditChainBroken as e:
                chain = {"ok": False, "error": str(e)}
            step("done")
        doc = report.as_dict()
        doc["audit_chain"] = chain
        doc["healthy"] = report.healthy and bool(chain["ok"])
        _audit(rt, "maintenance.run", {"damaged": report.damaged, "orphans_deleted": doc["orphans_deleted"],
                                       "expired_exports": len(report.expired_exports), "audit_chain_ok": chain["ok"]})
        doc["names"] = {s.org_id: n for s, n in zip(report.scrubs, report.orphans, strict=True)}
        return doc

    try:
        doc = guard(run)
    finally:
        rt.close()
    names = doc.pop("names")
    if as_json:
        print_json(doc)
    else:
        c = doc["compaction"]
        out.print(f"catalogue: {c['files_before']} -> {c['files_after']} files, {c['snapshots_expired']} snapshots expired; "  # type: ignore[index]
                  f"{len(doc['expired_exports'])} exports expired", highlight=False)  # type: ignore[arg-type]
        for s in doc["scrubs"]:  # type: ignore[attr-defined]
            out.print(f"{names[s['org_id']]}: scrubbed {s['catalogue_files']} catalogue files and {s['objects']} objects "  # type: ignore[index]
                      f"(slice {s['slot'] + 1} of {s['period']}), {len(s['failures'])} damaged", highlight=False)
        orphans = doc["orphans"]
        found = sum(v["found"] for v in orphans.values()) + doc["lake_orphans"]["found"]  # type: ignore[attr-defined,index]
        out.print(f"orphans: {found} found, {doc['orphans_deleted']} deleted (older than the grace period)", highlight=False)
        for p in doc["unknown_prefixes"]:  # type: ignore[attr-defined]
            out.print(f"[bold red]UNKNOWN[/] objects of an organization the control plane does not know: {p}", highlight=False)
        _show_failures(doc["scrubs"], names)  # type: ignore[arg-type]
        chain = doc["audit_chain"]
        out.print("audit chain: intact" if chain["ok"] else f"[bold red]audit chain: {chain['error']}[/]", highlight=False)  # type: ignore[index]
    if not doc["healthy"]:
        raise typer.Exit(1)
