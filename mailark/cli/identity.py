"""People of an organization: domains, users, groups, roles, and the MSP's operators."""

from __future__ import annotations

from typing import Annotated

import typer

from mailark.cli.common import GroupOpt, JsonOpt, OrgOpt, UserOpt, act, emit, table

domain_app = typer.Typer(no_args_is_help=True, help="Mail domains of an organization.")
user_app = typer.Typer(no_args_is_help=True, help="Users (they log in as name@domain).")
group_app = typer.Typer(no_args_is_help=True, help="Groups of users.")
role_app = typer.Typer(no_args_is_help=True, help="Roles (Admin, Reader, Compliance, Auditor) of groups or users.")
operator_app = typer.Typer(no_args_is_help=True, help="MSP operator accounts.")


def register(app: typer.Typer) -> None:
    app.add_typer(domain_app, name="domain")
    app.add_typer(user_app, name="user")
    app.add_typer(group_app, name="group")
    app.add_typer(role_app, name="role")
    app.add_typer(operator_app, name="operator")


# ---- domains -------------------------------------------------------------------------------------------


@domain_app.command("add")
def domain_add(
    domain: str, org: OrgOpt,
    global_: Annotated[bool, typer.Option("--global", help="An internet domain (else a local one).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a domain (it belongs to this organization only)."""
    from mailark.control.identity import add_domain

    d = act(lambda s, p, rt: add_domain(s, p, org, domain, "global" if global_ else "local"))
    emit({"domain": d.name, "kind": d.kind}, as_json, f"added {d.kind} domain {d.name} to {org}")


@domain_app.command("list")
def domain_list(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """List an organization's domains."""
    from mailark.control.identity import list_domains

    rows = act(lambda s, p, rt: [{"domain": d.name, "kind": d.kind, "default": d.is_default}
                                  for d in list_domains(s, p, org)])
    emit(rows, as_json, table(rows, "domain", "kind", "default"))


@domain_app.command("remove")
def domain_remove(domain: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Remove a domain (no user may log in with it); another organization may take it afterwards."""
    from mailark.control.identity import remove_domain

    r = act(lambda s, p, rt: remove_domain(s, p, org, domain))
    text = f"removed domain {domain} from {org}"
    if r.sources_removed:
        text += f"; sources removed with it: {', '.join(r.sources_removed)}"
    if r.sources_disabled:
        text += (f"; sources disabled (they fill mailboxes of {domain}): {', '.join(r.sources_disabled)} "
                 f"(enable one again with mailark source enable NAME --org {org} if it should go on)")
    emit({"removed": domain, "sources_removed": r.sources_removed, "sources_disabled": r.sources_disabled},
         as_json, text)


# ---- users ------------------------------------------------------------------------------------------------


@user_app.command("add")
def user_add(
    login: Annotated[str, typer.Argument(help="name@domain (a domain of the organization).")],
    org: OrgOpt,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    mailbox: Annotated[bool, typer.Option("--mailbox", help="Also create the user's archive mailbox.")] = False,
    role: Annotated[list[str] | None, typer.Option("--role", help="A direct role (repeatable).")] = None,
    send_invite: Annotated[bool, typer.Option("--send-invite", help="E-mail a one-time set-password link (valid 72 h) "
                                                                     "through the SMTP relay (mail.*) instead.")] = False,
    invite_to: Annotated[str | None, typer.Option("--invite-to", help="Send it there (default: the login).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user with a one-time password (printed once; the user changes it at first login)."""
    from mailark.control.identity import create_user

    def work(s, p, rt):  # type: ignore[no-untyped-def]
        n = create_user(s, p, org, login, display_name=name, with_mailbox=mailbox, roles=tuple(role or ()))
        sent_to = None
        if send_invite:
            from mailark.operations.invites import invite_user

            sent_to = invite_user(s, p, rt.settings, n.user, invite_to)
        return {"login": n.user.login, "one_time_password": None if sent_to else n.one_time_password,
                "mailbox": n.mailbox.primary_address if n.mailbox else None, "invite_sent_to": sent_to}

    doc = act(work)
    extra = f" and archive mailbox {doc['mailbox']}" if doc["mailbox"] else ""
    how = (f"a set-password link (valid 72 h) was sent to {doc['invite_sent_to']}" if doc["invite_sent_to"]
           else f"one-time password: {doc['one_time_password']}")
    emit(doc, as_json, f"added user {doc['login']}{extra}; {how}")


@user_app.command("list")
def user_list(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """List users with their roles."""
    from mailark.control.identity import list_users
    from mailark.control.principals import user_roles

    rows = act(lambda s, p, rt: [{"login": u.login, "name": u.display_name, "active": u.active,
                                   "mfa": u.totp_enabled, "roles": sorted(user_roles(s, u.id))}
                                  for u in list_users(s, p, org)])
    emit(rows, as_json, table(rows, "login", "name", "active", "mfa", "roles"))


@user_app.command("remove")
def user_remove(login: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Delete a user (frees the licence; the user's archive mailboxes stay)."""
    from mailark.control.identity import delete_user

    act(lambda s, p, rt: delete_user(s, p, org, login))
    emit({"removed": login}, as_json, f"removed user {login}; their archive mailboxes stay")


@user_app.command("disable")
def user_disable(login: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Stop a user from logging in (sessions and tokens end now)."""
    from mailark.control.identity import set_user_active

    act(lambda s, p, rt: set_user_active(s, p, org, login, False))
    emit({"disabled": login}, as_json, f"disabled {login}")


@user_app.command("enable")
def user_enable(login: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Let a disabled user log in again."""
    from mailark.control.identity import set_user_active

    act(lambda s, p, rt: set_user_active(s, p, org, login, True))
    emit({"enabled": login}, as_json, f"enabled {login}")


@user_app.command("reset-password")
def user_reset_password(login: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Give a user a new one-time password (printed once)."""
    from mailark.control.auth import reset_password

    pw = act(lambda s, p, rt: reset_password(s, p, org, login))
    emit({"login": login, "one_time_password": pw}, as_json, f"one-time password for {login}: {pw}")


@user_app.command("reset-mfa")
def user_reset_mfa(login: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Remove a user's TOTP (they enrol again at next login)."""
    from mailark.control.auth import reset_totp

    act(lambda s, p, rt: reset_totp(s, p, org, login))
    emit({"login": login, "mfa": False}, as_json, f"TOTP removed for {login}")
# ---- groups and roles ---------------------------------------------------------------------------------------


@group_app.command("add")
def group_add(name: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Add a group."""
    from mailark.control.identity import create_group

    act(lambda s, p, rt: create_group(s, p, org, name))
    emit({"group": name}, as_json, f"added group {name}")


@group_app.command("remove")
def group_remove(name: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Delete a group (refused if it would leave no Admin)."""
    from mailark.control.identity import delete_group

    act(lambda s, p, rt: delete_group(s, p, org, name))
    emit({"removed": name}, as_json, f"removed group {name}")


@group_app.command("list")
def group_list(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """List groups, their members and roles."""
    from mailark.control.identity import list_groups

    rows = act(lambda s, p, rt: [{"group": g.name, "members": m, "roles": r} for g, m, r in list_groups(s, p, org)])
    emit(rows, as_json, table(rows, "group", "members", "roles"))


@group_app.command("add-member")
def group_add_member(group: str, login: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Put a user into a group."""
    from mailark.control.identity import add_member

    act(lambda s, p, rt: add_member(s, p, org, group, login))
    emit({"group": group, "added": login}, as_json, f"{login} is in group {group}")


@group_app.command("remove-member")
def group_remove_member(group: str, login: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Take a user out of a group (refused if it would leave no Admin)."""
    from mailark.control.identity import remove_member

    act(lambda s, p, rt: remove_member(s, p, org, group, login))
    emit({"group": group, "removed": login}, as_json, f"{login} left group {group}")


@role_app.command("assign")
def role_assign(role: str, org: OrgOpt, group: GroupOpt = None, user: UserOpt = None, as_json: JsonOpt = False) -> None:
    """Give a role to a group (or directly to a user)."""
    from mailark.control.identity import assign_role

    act(lambda s, p, rt: assign_role(s, p, org, role, group=group, user=user))
    emit({"role": role, "group": group, "user": user}, as_json, f"{group or user} has the {role} role")


@role_app.command("revoke")
def role_revoke(role: str, org: OrgOpt, group: GroupOpt = None, user: UserOpt = None, as_json: JsonOpt = False) -> None:
    """Take a role from a group or user (refused if it would leave no Admin)."""
    from mailark.control.identity import revoke_role

    act(lambda s, p, rt: revoke_role(s, p, org, role, group=group, user=user))
    emit({"role": role, "group": group, "user": user}, as_json, f"{group or user} no longer has the {role} role")


# ---- operators ----------------------------------------------------------------------------------------------------


@operator_app.command("add")
def operator_add(
    name: str,
    org: Annotated[list[str] | None, typer.Option("--org", help="Limit to this organization (repeatable).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an MSP operator account (all organizations unless limited); prints a one-time password."""
    from mailark.control.auth import create_operator

    def work(s, p, rt):  # type: ignore[no-untyped-def]
        op, pw = create_operator(s, p, name, orgs=org or None)
        return {"operator": op.name, "orgs": org or "all", "one_time_password": pw}

    doc = act(work)
    emit(doc, as_json, f"added operator {doc['operator']} ({doc['orgs']}); one-time password: {doc['one_time_password']}")


@operator_app.command("remove")
def operator_remove(name: str, as_json: JsonOpt = False) -> None:
    """Delete an operator account."""
    from mailark.control.auth import delete_operator

    act(lambda s, p, rt: delete_operator(s, p, name))
    emit({"removed": name}, as_json, f"removed operator {name}")
