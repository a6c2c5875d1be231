"""`mailark usage`, `mailark billing` and `mailark meter`: quotas, billing records and metering now.

Registered from `mailark.cli` with `register(app)`. Same contract as the rest of the CLI: exit 0 on
success, 1 on a refusal (message on stderr), 2 on wrong usage; `--json` prints one JSON document.
The CLI acts as the deployment operator (every organization).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from mailark.cli.common import JsonOpt, cli_runtime, fail, out, print_json

OrgOpt = Annotated[str | None, typer.Option("--org", help="Only this organization (default: all).")]


def register(app: typer.Typer) -> None:
    app.command("usage")(usage)
    app.command("billing")(billing_cmd)
    app.command("meter")(meter)










def _gb(n: int) -> str:
    return f"{n / 10**9:,.2f}"


def usage(org: OrgOpt = None, as_json: JsonOpt = False) -> None:
    """Storage, users and archive mailboxes against the licence, as last metered, with warnings."""
    from mailark.control import metering
    from mailark.control.orgs import ControlError
    from mailark.control.principals import Principal

    rt = cli_runtime()
    try:
        with rt.session() as s:
            p = Principal.deployment_operator()
            views = [metering.get_usage(s, p, org)] if org else metering.overview(s, p)
    except ControlError as e:
        fail(str(e))
    finally:
        rt.close()
    if as_json:
        print_json([v.as_dict() for v in views] if not org else views[0].as_dict())
        return
    t = Table("organization", "storage GB (used/quota)", "%", "users", "mailboxes", "licence", "archiving", "metered")
    for v in views:
        t.add_row(v.org, f"{_gb(v.storage_used_bytes)} / {v.storage_quota_gb}", f"{v.storage_used_percent:.1f}",
                  f"{v.users}/{v.licensed_users}", f"{v.mailboxes}/{v.mailbox_quota}", v.licence_status,
                  "[red]paused[/]" if v.archiving_paused else "on",
                  f"{v.measured_at:%Y-%m-%d %H:%M}" if v.measured_at else "never")
    out.print(t)
    for v in views:
        for w in v.warnings:
            out.print(f"[yellow]warning[/] {v.org}: {w['message']}", highlight=False, soft_wrap=True)
        if v.paused_reason:
            out.print(f"[red]paused[/] {v.org}: {v.paused_reason}", highlight=False, soft_wrap=True)


def billing_cmd(
    month: Annotated[str | None, typer.Option("--month", help="YYYY-MM (default: the running month).")] = None,
    org: OrgOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Billing records of a calendar month: licensed users and the highest storage quota held, trial marked."""
    from sqlalchemy import select

    from mailark.control import billing
    from mailark.control.models import Organization
    from mailark.control.orgs import ControlError
    from mailark.control.principals import Principal

    month = month or datetime.now(UTC).strftime("%Y-%m")
    rt = cli_runtime()
    try:
        with rt.session() as s:
            p = Principal.deployment_operator()
            names = [org] if org else list(s.scalars(select(Organization.name).order_by(Organization.name)))
            recs = [r for n in names for r in billing.billing_records(s, p, n, month)]
    except ControlError as e:
        fail(str(e))
    finally:
        rt.close()
    if as_json:
        print_json([r.as_dict() for r in recs])
        return
    t = Table("organization", "month", "licensed users", "storage GB", "trial", "billable", "status at end", "final")
    for r in recs:
        t.add_row(r.org, r.month, str(r.licensed_users), str(r.storage_gb), "yes" if r.trial else "",
                  "yes" if r.billable else "", r.status_at_end, "yes" if r.closed else "running")
    out.print(t)


def meter(
    org: OrgOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Count everything again instead of only what changed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Meter now (as the meter-usage flow does every 15 minutes); runs as that flow when a Prefect server is up."""
    from mailark.catalog.lake import LakeError
    from mailark.cli.common import prefect_running
    from mailark.control.orgs import ControlError

    try:
        if prefect_running():
            from mailark.flows.metering import meter_usage

            if org:  # a clear refusal, not a failed (and retried) flow run, for a typo
                rt = cli_runtime()
                try:
                    rt.org(org)
                finally:
                    rt.close()

            docs = meter_usage(org or "all", full)
        else:
            from mailark.operations.metering import meter_all

            rt = cli_runtime()
            try:
                docs = [r.as_dict() for r in meter_all(rt, org, full=full)]
            finally:
                rt.close()
    except (ControlError, LakeError) as e:
        fail(str(e))
    if as_json:
        print_json(docs)
        return
    for d in docs:
        if d["mode"] == "skipped":
            out.print(f"{d['org']}: skipped ({d['note']})", highlight=False)
            continue
        o = d["outcome"]
        line = (f"{d['org']}: {_gb(o['storage_bytes'])} of {o['storage_quota_bytes'] // 10**9} GB, {o['users']} users, "
                f"{o['mailboxes']} archive mailboxes ({d['mode']} count, {d['rows_read']} catalogue rows read, {d['seconds']} s)")
        out.print(line, highlight=False, soft_wrap=True)
        for gb in o["expanded_to_gb"]:
            out.print(f"  storage auto-expanded to {gb} GB", highlight=False)
        if o["changed"]:
            out.print(f"  archiving {o['changed']}" + (f": {o['paused_reason']}" if o["paused_reason"] else ""), highlight=False)
        for w in o["warnings"]:
            out.print(f"  [yellow]warning[/] {w['message']}", highlight=False, soft_wrap=True)
