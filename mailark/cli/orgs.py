"""Organizations (tenants): create, list, and their two-factor rule."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from mailark.cli.common import JsonOpt, OrgOpt, act, cli_runtime, emit, fail, guard, out, print_json

org_app = typer.Typer(no_args_is_help=True, help="Organizations (tenants).")


def register(app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")

# ---- org --------------------------------------------------------------------------------------


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Argument(help="Name = default domain: a-z 0-9 _ -")],
    users: Annotated[int | None, typer.Option("--users", help="Licensed users (default: a small trial licence).")] = None,
    storage_gb: Annotated[int | None, typer.Option("--storage-gb", help="Storage tier in GB: 10, 25, 50, 100, 250, ...")] = None,
    per_user: Annotated[int | None, typer.Option("--mailboxes-per-user", help="Archive mailboxes per licensed user.")] = None,
    trial: Annotated[bool, typer.Option("--trial", help="Start a 30-day trial (the default without --users/--storage-gb).")] = False,
    send_invite: Annotated[bool, typer.Option("--send-invite", help="E-mail the first admin a one-time set-password "
                                                                     "link (valid 72 h) through the SMTP relay.")] = False,
    invite_to: Annotated[str | None, typer.Option("--invite-to", help="The first admin's e-mail address.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an organization, its keys, licence and first admin (admin@NAME, one-time password printed once)."""
    from mailark.control.licensing import view
    from mailark.control.orgs import create_org

    if send_invite and not invite_to:
        fail(f"give --invite-to, the e-mail address of the first admin (admin@{name} is not a mail address)")
    rt = cli_runtime()

    def run() -> dict[str, Any]:
        with rt.session() as s:
            created = create_org(s, name, rt.master_key, users=users, storage_gb=storage_gb,
                                 mailboxes_per_user=per_user, trial=True if trial else None)
            org, lic = created.org, view(s, created.org)
            sent_to = None
            if send_invite:
                from sqlalchemy import select

                from mailark.control.models import User
                from mailark.control.principals import Principal
                from mailark.operations.invites import invite_user

                admin = s.scalar(select(User).where(User.login == created.admin_login))
                sent_to = invite_user(s, Principal.deployment_operator(), rt.settings, admin, invite_to)
            return {"id": org.id, "name": org.name, "storage_quota_bytes": org.storage_quota_bytes,
                    "licence": lic.as_dict(), "admin": created.admin_login,
                    "admin_password": None if sent_to else created.admin_password, "invite_sent_to": sent_to}

    doc = guard(run)
    if as_json:
        print_json(doc)
    else:
        lic = doc["licence"]
        trial_note = f", trial until {lic['trial_ends_at']:%Y-%m-%d}" if lic["status"] == "trial" else ""
        out.print(f"created organization [bold]{doc['name']}[/] (id {doc['id']}): {lic['licensed_users']} users, "
                  f"{lic['storage_gb']} GB{trial_note}")
        if doc["invite_sent_to"]:
            out.print(f"first admin [bold]{doc['admin']}[/]: a set-password link (valid 72 h) was sent to "
                      f"{doc['invite_sent_to']}", highlight=False)
        else:
            out.print(f"first admin [bold]{doc['admin']}[/], one-time password: {doc['admin_password']}", highlight=False)


@org_app.command("list")
def org_list(as_json: JsonOpt = False) -> None:
    """List organizations."""
    from mailark.control.orgs import list_orgs

    rt = cli_runtime()
    with rt.control() as s:
        rows = [{"id": o.id, "name": o.name, "created_at": o.created_at} for o in list_orgs(s)]
    if as_json:
        print_json(rows)
        return
    t = Table("name", "id", "created")
    for r in rows:
        t.add_row(r["name"], r["id"], str(r["created_at"]))
    out.print(t)




@org_app.command("mfa")
def org_mfa(
    org: OrgOpt,
    required: Annotated[bool, typer.Option("--required/--optional", help="Require TOTP for every user.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Require (or stop requiring) TOTP for every user of an organization."""
    from mailark.control.auth import set_mfa_required

    act(lambda s, p, rt: set_mfa_required(s, p, org, required))
    emit({"org": org, "mfa_required": required}, as_json, f"TOTP is {'required' if required else 'optional'} in {org}")


@org_app.command("readers")
def org_readers(
    org: OrgOpt,
    by_default: Annotated[bool, typer.Option(
        "--by-default/--assigned-only",
        help="Every user reads their own and granted mailboxes, or only users given the Reader role.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Who reads mail on the web: every user (the default) or only users with the Reader role."""
    from mailark.control.identity import set_readers_by_default

    act(lambda s, p, rt: set_readers_by_default(s, p, org, by_default))
    emit({"org": org, "readers_by_default": by_default}, as_json,
         f"in {org}, {'every user reads' if by_default else 'only users with the Reader role read'} "
         f"their own and granted mailboxes")


@org_app.command("delete")
def org_delete(
    name: Annotated[str, typer.Argument(help="The organization to delete for good.")],
    confirm: Annotated[str, typer.Option("--confirm", help="Repeat the organization's name.")] = "",
    now: Annotated[bool, typer.Option("--now", help="Delete at once, without a cancellation's grace period (needs --reason).")] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why (goes into the audit log).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Crypto-shred an organization: destroy its keys, then remove its mail, catalogue, index, users and
    domains (re-run to resume an interrupted deletion). Its audit events stay."""
    from mailark.control.principals import Principal
    from mailark.operations.offboarding import delete_organization

    rt = cli_runtime()
    try:
        r = guard(lambda: delete_organization(rt, Principal.deployment_operator(), name, confirm=confirm, now=now,
                                              reason=reason))
    finally:
        rt.close()
    emit(r.as_dict(), as_json, f"organization {name} is deleted: " + "; ".join(r.steps))
