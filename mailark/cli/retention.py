"""`mailark retention add|change|list|preview|remove|apply|report`: retention policies (Compliance).

The CLI acts as the deployment operator; every change is audited like one made through the API.
A change that would shorten how long copies are kept today says so and asks first (`--yes` to
proceed without asking; with `--json` and no `--yes` it is refused, exit 1). `apply` is what the
daily `apply-retention` flow runs; with a Prefect server up it runs as that flow.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mailark.cli.common import JsonOpt, OrgOpt, cli_runtime, emit, err, fail, guard, out, prefect_running, table

Keep = Annotated[str, typer.Option("--keep", help="How long: Nd, Nm or Ny (e.g. 10y).")]
Mailboxes = Annotated[list[str] | None, typer.Option("--mailbox", help="Only these archive mailboxes (repeat).")]
Folder = Annotated[str | None, typer.Option("--folder", help="Only this folder and the folders below it.")]
Query = Annotated[str | None, typer.Option("--query", help="Only what this search matches (e.g. from:@bank.example).")]
Base = Annotated[str, typer.Option("--from", help="Count from the message date or from when it was archived.")]
Action = Annotated[str, typer.Option("--action", help="At the end: delete, or review (listed for Compliance).")]
Yes = Annotated[bool, typer.Option("--yes", help="Save even if it shortens how long some copies are kept.")]


def register(app: typer.Typer) -> None:
    ret_app = typer.Typer(no_args_is_help=True, help="Retention policies: how long mail is kept, then deleted or reviewed.")
    app.add_typer(ret_app, name="retention")

    @ret_app.command("add")
    def add(name: str, org: OrgOpt, keep: Keep, mailbox: Mailboxes = None, folder: Folder = None, query: Query = None,
            base: Base = "message-date", action: Action = "delete", yes: Yes = False, as_json: JsonOpt = False) -> None:
        """Create a policy (the longest policy covering a copy wins; a legal hold beats them all)."""
        _save(name, org, keep, mailbox, folder, query, base, action, yes, as_json, change=None)

    @ret_app.command("change")
    def change(name: str, org: OrgOpt, keep: Keep, mailbox: Mailboxes = None, folder: Folder = None,
               query: Query = None, base: Base = "message-date", action: Action = "delete",
               rename: Annotated[str | None, typer.Option("--rename", help="A new name for the policy.")] = None,
               yes: Yes = False, as_json: JsonOpt = False) -> None:
        """Change a policy (its whole definition: give every option it should keep)."""
        _save(rename or name, org, keep, mailbox, folder, query, base, action, yes, as_json, change=name)

    @ret_app.command("list")
    def list_(org: OrgOpt, as_json: JsonOpt = False) -> None:
        """The organization's policies."""
        from mailark.operations.retention import list_policies

        rows = _with_rt(lambda rt, op: list_policies(rt, op, org))
        emit(rows, as_json, table(rows, "name", "keep", "from", "action", "scope", "mailboxes",
                                  "folder", "query"))

    @ret_app.command("preview")
    def preview(org: OrgOpt, as_json: JsonOpt = False) -> None:
        """Copies and bytes each policy would remove now and in each of the next 12 months (changes nothing)."""
        from mailark.operations.retention import preview as run

        doc = _with_rt(lambda rt, op: run(rt, op, org))

        def show() -> None:
            for p in doc["policies"]:
                out.print(f"[bold]{p['name']}[/] (keep {p['keep']} from {p['from']}, then {p['action']}): "
                          f"governs {p['governs']['copies']} copies; now {p['now']['copies']} copies, "
                          f"{p['now']['bytes']:,} bytes", highlight=False)
                for m in p["months"]:
                    if m["copies"]:
                        out.print(f"  until {m['until']:%Y-%m-%d}: {m['copies']} copies, {m['bytes']:,} bytes", highlight=False)
            h = doc["held"]
            out.print(f"held (expired or expiring within 12 months, kept by a legal hold): {h['copies']} copies, "
                      f"{h['bytes']:,} bytes; kept for ever (no policy): {doc['kept_forever']['copies']} copies",
                      highlight=False)
        emit(doc, as_json, show)

    @ret_app.command("remove")
    def remove(name: str, org: OrgOpt, yes: Yes = False, as_json: JsonOpt = False) -> None:
        """Remove a policy (copies it governed fall to the next longest policy, or are kept for ever)."""
        from mailark.operations.retention import remove_checked

        doc = _confirmed(lambda rt, op, ok: remove_checked(rt, op, org, name, confirm=ok), yes, as_json)
        emit(doc, as_json, f"policy {name!r} removed")

    @ret_app.command("apply")
    def apply(org: OrgOpt, as_json: JsonOpt = False) -> None:
        """Delete what expired now (review policies: list it), never what a legal hold covers."""
        if prefect_running():
            from mailark.flows.retention import apply_retention_flow

            doc = apply_retention_flow(org=org)[org]
        else:
            from mailark.operations.retention import apply_retention

            doc = _with_rt(lambda rt, op: apply_retention(rt, op, org).as_dict())
        emit(doc, as_json, f"deleted {doc['deleted']} expired copies ({doc['bytes_freed']:,} stored bytes freed); "
                           f"{doc['held']} expired but held; {doc['review']} waiting for review"
                           + (" (resumed an unfinished run)" if doc.get("resumed") else ""))

    @ret_app.command("review")
    def review(org: OrgOpt,
               delete: Annotated[list[str] | None, typer.Option("--delete", help="Approve the deletion of this listed copy (item id; repeat).")] = None,
               keep: Annotated[list[str] | None, typer.Option("--keep", help="Keep this listed copy (item id; repeat).")] = None,
               as_json: JsonOpt = False) -> None:
        """The copies review policies listed; with --delete/--keep, decide on them (audited)."""
        from mailark.operations.retention import decide_reviews, open_reviews

        if delete or keep:
            doc = _with_rt(lambda rt, op: decide_reviews(rt, op, org, delete=delete or [], keep=keep or []))
            emit(doc, as_json, f"deleted {doc['deleted']} copies, kept {doc['kept']}")
            return
        rows = _with_rt(lambda rt, op: open_reviews(rt, op, org))
        emit(rows, as_json, table(rows, "item_id", "policy", "mailbox", "subject", "expired_at"))

    @ret_app.command("report")
    def report(org: OrgOpt, as_json: JsonOpt = False) -> None:
        """Per policy and hold: what is kept, what was deleted when and why; does the audit chain verify."""
        from mailark.operations.retention import report as run

        doc = _with_rt(lambda rt, op: run(rt, op, org))
        emit(doc, as_json, lambda: out.print(report_markdown(doc), highlight=False, markup=False))


def report_markdown(doc: dict[str, Any]) -> str:
    """The report as markdown (the CLI prints it; the flow's artifact and the page show the same)."""
    lines = [f"# Retention report: {doc['org']}", f"as of {doc['as_of']:%Y-%m-%d %H:%M} UTC", "", "## Policies"]
    for p in doc["policies"]:
        lines.append(f"- **{p['name']}**: keep {p['keep']} from the {p['from']}, then {p['action']}; scope "
                     f"{_scope(p)}; keeps {p['kept']['copies']} copies ({p['kept']['bytes']:,} bytes); next expiry "
                     f"{p['next_expiry']:%Y-%m-%d}" if p["next_expiry"] else
                     f"- **{p['name']}**: keep {p['keep']} from the {p['from']}, then {p['action']}; scope {_scope(p)}; "
                     f"keeps {p['kept']['copies']} copies ({p['kept']['bytes']:,} bytes)")
        for d in p["deleted"]:
            lines.append(f"  - deleted {d['copies']} copies at {d['at']}: {d['reason']}")
    if not doc["policies"]:
        lines.append("- none: every copy is kept for ever")
    lines += ["", "## Legal holds"]
    for h in doc["holds"]:
        state = "active" if h["active"] else f"released {h['released_at']} by {h['released_by']}: {h['release_reason']}"
        lines.append(f"- **{h['case']}** ({state}): {h['reason']}; placed {h['placed_at']} by {h['placed_by']}; "
                     f"covers {', '.join(h['mailboxes']) or h['query']}; keeps {h['kept']['copies']} copies")
    if not doc["holds"]:
        lines.append("- none")
    chain = doc["audit_chain"]
    lines += ["", "## Audit", f"- {len(doc['events'])} retention and hold events",
              f"- audit chain: {'verifies' if chain['ok'] else 'BROKEN at event ' + str(chain['first_bad_seq'])}"
              f" ({chain['events']} events from the first)"]
    for e in doc["events"][-50:]:
        lines.append(f"  - #{e['seq']} {e['at']} {e['action']} {e['target']} by {e['actor']}")
    return "\n".join(lines)


def _scope(p: dict[str, Any]) -> str:
    parts = []
    if p["mailboxes"]:
        parts.append("mailboxes " + ", ".join(p["mailboxes"]))
    if p["folder"]:
        parts.append(f"folder {p['folder']}")
    if p["query"]:
        parts.append(f"query {p['query']}")
    return "; ".join(parts) or "the whole organization"


def _with_rt(work: Any) -> Any:
    from mailark.control.principals import Principal

    rt = cli_runtime()
    try:
        return guard(lambda: work(rt, Principal.deployment_operator()))
    finally:
        rt.close()


def _confirmed(work: Any, yes: bool, as_json: bool) -> Any:
    """Run `work(rt, op, confirm)`; if it would shorten a promise, show why and ask (or refuse)."""
    from mailark.control.principals import Principal

    rt = cli_runtime()
    op = Principal.deployment_operator()
    try:
        try:
            return guard(lambda: _asking(work, rt, op, yes))
        except _Ask as e:
            if as_json:
                fail(f"{e}; nothing was saved (pass --yes to save it anyway)")
            err.print(f"[bold yellow]warning:[/] {e}", highlight=False, soft_wrap=True)
            if not typer.confirm("save it anyway?", err=True):
                fail("nothing was saved")
            return guard(lambda: work(rt, op, True))
    finally:
        rt.close()


class _Ask(Exception):
    pass


def _asking(work: Any, rt: Any, op: Any, yes: bool) -> Any:
    from mailark.operations.retention import NeedsConfirmation

    try:
        return work(rt, op, yes)
    except NeedsConfirmation as e:  # not a failure yet: the person is asked
        raise _Ask(str(e)) from None


def _save(name: str, org: str, keep: str, mailbox: list[str] | None, folder: str | None, query: str | None, base: str,
          action: str, yes: bool, as_json: bool, change: str | None) -> None:
    from mailark.control.retention import PolicySpec
    from mailark.operations.retention import save_checked

    spec = PolicySpec(name, keep, tuple(mailbox or ()), folder, query, base, action)
    doc = _confirmed(lambda rt, op, ok: save_checked(rt, op, org, spec, change=change, confirm=ok), yes, as_json)
    emit(doc, as_json, lambda: _said(doc, "changed" if change else "created"))


def _said(doc: dict[str, Any], what: str) -> None:
    p = doc["policy"]
    out.print(f"policy {p['name']!r} {what}: keep {p['keep']} from the {p['from']}, then {p['action']}", highlight=False)
    if doc.get("warning"):
        out.print(f"confirmed: {doc['warning'].replace('; confirm to save it anyway', '')}", highlight=False)
    if doc.get("note"):
        out.print(doc["note"], highlight=False)
