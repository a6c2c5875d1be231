"""Support access grants: let a named MSP operator read named mailboxes of an organization for a while.

On the server the CLI acts as the deployment operator (it holds the master key, so it holds everything);
it can grant and revoke on an organization's behalf, e.g. when its Admin asks by ticket. Over HTTP only
the organization's own Admins and Compliance officers grant (control.support).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from mailark.cli.common import JsonOpt, OrgOpt, act, emit, table

support_app = typer.Typer(no_args_is_help=True, help="Support access grants for MSP operators (time-limited, audited).")


def register(app: typer.Typer) -> None:
    app.add_typer(support_app, name="support")


@support_app.command("grant")
def support_grant(
    org: OrgOpt,
    operator: Annotated[str, typer.Option("--operator", help="The MSP operator's name.")],
    mailbox: Annotated[list[str], typer.Option("--mailbox", help="An archive mailbox the operator may read (repeat).")],
    hours: Annotated[float, typer.Option("--hours", help="How long the grant lasts (default 24, at most 168 = 7 days).")] = 24,
    reason: Annotated[str, typer.Option("--reason", help="The support case (goes into the audit log).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Let an operator read named mailboxes until the grant expires or is revoked."""
    from mailark.control.support import grant

    v = act(lambda s, p, rt: grant(s, p, org, operator, mailbox, hours=hours, reason=reason))
    emit(asdict(v), as_json, f"support grant {v.id}: operator {v.operator} may read {', '.join(v.mailboxes)} "
                             f"of {org} until {v.expires_at:%Y-%m-%d %H:%M} UTC (revoke: mailark support revoke "
                             f"--org {org} {v.id})")


@support_app.command("revoke")
def support_revoke(org: OrgOpt, grant_id: Annotated[str, typer.Argument(help="The grant's id.")],
                   as_json: JsonOpt = False) -> None:
    """End a grant at once."""
    from mailark.control.support import revoke

    v = act(lambda s, p, rt: revoke(s, p, org, grant_id))
    emit(asdict(v), as_json, f"support grant {v.id} of operator {v.operator} is no longer active")


@support_app.command("list")
def support_list(org: OrgOpt, active: Annotated[bool, typer.Option("--active", help="Only active grants.")] = False,
                 as_json: JsonOpt = False) -> None:
    """The organization's support grants, newest first."""
    from mailark.control.support import list_grants

    rows = act(lambda s, p, rt: list_grants(s, p, org, active_only=active))
    docs = [asdict(v) for v in rows]
    shown = [{**d, "mailboxes": ", ".join(d["mailboxes"]), "expires_at": f"{d['expires_at']:%Y-%m-%d %H:%M}"} for d in docs]
    emit(docs, as_json, table(shown, "id", "operator", "mailboxes", "expires_at", "active"))
