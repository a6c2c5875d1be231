"""Administration commands: domains, users, groups, roles, mailboxes, aliases, permissions,
licences, operators and the audit log.

The CLI on the server acts as the deployment operator (every organization, every role); each
change is audited like one made through the API. Same contract as `mailark.cli`: exit 0 on
success, 1 on a refusal or failure (message on stderr), 2 on wrong usage; `--json` prints exactly
one JSON document. Secrets that must be shown once (one-time passwords) go to stdout only.

Registered from `mailark.cli` with `register_admin_commands(app, org_app)`; this module imports
nothing from `mailark.cli`, so either can be imported first.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from mailark.config.settings import get_settings

err = Console(stderr=True)
out = Console()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
OrgOpt = Annotated[str, typer.Option("--org", help="Organization name.")]
UserOpt = Annotated[str | None, typer.Option("--user", help="A user's login (name@domain).")]
GroupOpt = Annotated[str | None, typer.Option("--group", help="A group's name.")]

domain_app = typer.Typer(no_args_is_help=True, help="Mail domains of an organization.")
user_app = typer.Typer(no_args_is_help=True, help="Users (they log in as name@domain).")
group_app = typer.Typer(no_args_is_help=True, help="Groups of users.")
role_app = typer.Typer(no_args_is_help=True, help="Roles (Admin, Reader, Compliance, Auditor) of groups or users.")
mailbox_app = typer.Typer(no_args_is_help=True, help="Archive mailboxes (user, shared, journal).")
alias_app = typer.Typer(no_args_is_help=True, help="Secondary addresses of archive mailboxes.")
perm_app = typer.Typer(no_args_is_help=True, help="Read access to archive mailboxes.")
licence_app = typer.Typer(no_args_is_help=True, help="An organization's licence (MSP operators).")
operator_app = typer.Typer(no_args_is_help=True, help="MSP operator accounts.")
audit_app = typer.Typer(no_args_is_help=True, help="The audit log.")


def register_admin_commands(app: typer.Typer, org_app: typer.Typer | None = None) -> None:
    for sub, name in ((domain_app, "domain"), (user_app, "user"), (group_app, "group"), (role_app, "role"),
                      (mailbox_app, "mailbox"), (alias_app, "alias"), (perm_app, "perm"), (licence_app, "licence"),
                      (operator_app, "operator"), (audit_app, "audit")):
        app.add_typer(sub, name=name)
    if org_app is not None:
        org_app.command("mfa")(org_mfa)


# ---- plumbing (the same contract as mailark.cli) -------------------------------------------------


def _fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _default(o: Any) -> Any:
    if isinstance(o, datetime | date):
        return o.isoformat()
    if is_dataclass(o) and not isinstance(o, type):
        return asdict(o)
    if isinstance(o, set | frozenset):
        return sorted(o)
    return str(o)


def _act(work: Callable[[Session, Any, Any], Any]) -> Any:
    """Run `work(session, operator principal, runtime)` in one transaction; refusals exit 1."""
    from mailark.control.orgs import ControlError
    from mailark.control.principals import Principal
    from mailark.runtime import open_runtime

    rt = open_runtime(get_settings())
    try:
        with rt.session() as s:
            return work(s, Principal.deployment_operator(), rt)
    except ControlError as e:
        _fail(str(e))
    finally:
        rt.close()


def _emit(doc: Any, as_json: bool, text: str | Callable[[], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(doc, default=_default, ensure_ascii=False) + "\n")
    elif callable(text):
        text()
    else:
        out.print(text, highlight=False, soft_wrap=True)


def _table(rows: list[dict[str, Any]], *cols: str) -> Callable[[], None]:
    def show() -> None:
        t = Table(*cols)
        for r in rows:
            t.add_row(*[", ".join(map(str, v)) if isinstance(v, list) else ("" if v is None else str(v)) for v in (r[c] for c in cols)])
        out.print(t)
    return show


# ---- domains -------------------------------------------------------------------------------------------


@domain_app.command("add")
def domain_add(
    domain: str, org: OrgOpt,
    global_: Annotated[bool, typer.Option("--global", help="An internet domain (else a local one).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a domain (it belongs to this organization only)."""
    from mailark.control.identity import add_domain

    d = _act(lambda s, p, rt: add_domain(s, p, org, domain, "global" if global_ else "local"))
    _emit({"domain": d.name, "kind": d.kind}, as_json, f"added {d.kind} domain {d.name} to {org}")


@domain_app.command("list")
def domain_list(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """List an organization's domains."""
    from mailark.control.identity import list_domains

    rows = _act(lambda s, p, rt: [{"domain": d.name, "kind": d.kind, "default": d.is_default}
                                  for d in list_domains(s, p, org)])
    _emit(rows, as_json, _table(rows, "domain", "kind", "default"))


@domain_app.command("remove")
def domain_remove(domain: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Remove a domain (no user may log in with it); another organization may take it afterwards."""
    from mailark.control.identity import remove_domain

    _act(lambda s, p, rt: remove_domain(s, p, org, domain))
    _emit({"removed": domain}, as_json, f"removed domain {domain} from {org}")


# ---- users ------------------------------------------------------------------------------------------------


@user_app.command("add")
def user_add(
    login: Annotated[str, typer.Argument(help="name@domain (a domain of the organization).")],
    org: OrgOpt,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    mailbox: Annotated[bool, typer.Option("--mailbox", help="Also create the user's archive mailbox.")] = False,
    role: Annotated[list[str] | None, typer.Option("--role", help="A direct role (repeatable).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user with a one-time password (printed once; the user changes it at first login)."""
    from mailark.control.identity import create_user

    def work(s, p, rt):  # type: ignore[no-untyped-def]
        n = create_user(s, p, org, login, display_name=name, with_mailbox=mailbox, roles=tuple(role or ()))
        return {"login": n.user.login, "one_time_password": n.one_time_password,
                "mailbox": n.mailbox.primary_address if n.mailbox else None}

    doc = _act(work)
    extra = f" and archive mailbox {doc['mailbox']}" if doc["mailbox"] else ""
    _emit(doc, as_json, f"added user {doc['login']}{extra}; one-time password: {doc['one_time_password']}")


@user_app.command("list")
def user_list(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """List users with their roles."""
    from mailark.control.identity import list_users
    from mailark.control.principals import user_roles

    rows = _act(lambda s, p, rt: [{"login": u.login, "name": u.display_name, "active": u.active,
                                   "mfa": u.totp_enabled, "roles": sorted(user_roles(s, u.id))}
                                  for u in list_users(s, p, org)])
    _emit(rows, as_json, _table(rows, "login", "name", "active", "mfa", "roles"))


@user_app.command("remove")
def user_remove(login: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Delete a user (frees the licence; the user's archive mailboxes stay)."""
    from mailark.control.identity import delete_user

    _act(lambda s, p, rt: delete_user(s, p, org, login))
    _emit({"removed": login}, as_json, f"removed user {login}; their archive mailboxes stay")


@user_app.command("disable")
def user_disable(login: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Stop a user from logging in (sessions and tokens end now)."""
    from mailark.control.identity import set_user_active

    _act(lambda s, p, rt: set_user_active(s, p, org, login, False))
    _emit({"disabled": login}, as_json, f"disabled {login}")


@user_app.command("enable")
def user_enable(login: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Let a disabled user log in again."""
    from mailark.control.identity import set_user_active

    _act(lambda s, p, rt: set_user_active(s, p, org, login, True))
    _emit({"enabled": login}, as_json, f"enabled {login}")


@user_app.command("reset-password")
def user_reset_password(login: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Give a user a new one-time password (printed once)."""
    from mailark.control.auth import reset_password

    pw = _act(lambda s, p, rt: reset_password(s, p, org, login))
    _emit({"login": login, "one_time_password": pw}, as_json, f"one-time password for {login}: {pw}")


@user_app.command("reset-mfa")
def user_reset_mfa(login: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Remove a user's TOTP (they enrol again at next login)."""
    from mailark.control.auth import reset_totp

    _act(lambda s, p, rt: reset_totp(s, p, org, login))
    _emit({"login": login, "mfa": False}, as_json, f"TOTP removed for {login}")


def org_mfa(
    org: OrgOpt,
    required: Annotated[bool, typer.Option("--required/--optional", help="Require TOTP for every user.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Require (or stop requiring) TOTP for every user of an organization."""
    from mailark.control.auth import set_mfa_required

    _act(lambda s, p, rt: set_mfa_required(s, p, org, required))
    _emit({"org": org, "mfa_required": required}, as_json, f"TOTP is {'required' if required else 'optional'} in {org}")


# ---- groups and roles ---------------------------------------------------------------------------------------


@group_app.command("add")
def group_add(name: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Add a group."""
    from mailark.control.identity import create_group

    _act(lambda s, p, rt: create_group(s, p, org, name))
    _emit({"group": name}, as_json, f"added group {name}")


@group_app.command("remove")
def group_remove(name: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Delete a group (refused if it would leave no Admin)."""
    from mailark.control.identity import delete_group

    _act(lambda s, p, rt: delete_group(s, p, org, name))
    _emit({"removed": name}, as_json, f"removed group {name}")


@group_app.command("list")
def group_list(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """List groups, their members and roles."""
    from mailark.control.identity import list_groups

    rows = _act(lambda s, p, rt: [{"group": g.name, "members": m, "roles": r} for g, m, r in list_groups(s, p, org)])
    _emit(rows, as_json, _table(rows, "group", "members", "roles"))


@group_app.command("add-member")
def group_add_member(group: str, login: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Put a user into a group."""
    from mailark.control.identity import add_member

    _act(lambda s, p, rt: add_member(s, p, org, group, login))
    _emit({"group": group, "added": login}, as_json, f"{login} is in group {group}")


@group_app.command("remove-member")
def group_remove_member(group: str, login: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Take a user out of a group (refused if it would leave no Admin)."""
    from mailark.control.identity import remove_member

    _act(lambda s, p, rt: remove_member(s, p, org, group, login))
    _emit({"group": group, "removed": login}, as_json, f"{login} left group {group}")


@role_app.command("assign")
def role_assign(role: str, org: OrgOpt, group: GroupOpt = None, user: UserOpt = None, as_json: JsonOpt = False) -> None:
    """Give a role to a group (or directly to a user)."""
    from mailark.control.identity import assign_role

    _act(lambda s, p, rt: assign_role(s, p, org, role, group=group, user=user))
    _emit({"role": role, "group": group, "user": user}, as_json, f"{group or user} has the {role} role")


@role_app.command("revoke")
def role_revoke(role: str, org: OrgOpt, group: GroupOpt = None, user: UserOpt = None, as_json: JsonOpt = False) -> None:
    """Take a role from a group or user (refused if it would leave no Admin)."""
    from mailark.control.identity import revoke_role

    _act(lambda s, p, rt: revoke_role(s, p, org, role, group=group, user=user))
    _emit({"role": role, "group": group, "user": user}, as_json, f"{group or user} no longer has the {role} role")


# ---- mailboxes, aliases, permissions ----------------------------------------------------------------------------


@mailbox_app.command("add")
def mailbox_add(
    address: str, org: OrgOpt,
    kind: Annotated[str, typer.Option("--kind", help="user, shared or journal.")] = "user",
    owner: Annotated[str | None, typer.Option("--owner", help="The user of a user mailbox (gets read access).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an archive mailbox (within the licence's mailbox quota)."""
    from mailark.control.mailboxes import create_mailbox

    mb = _act(lambda s, p, rt: create_mailbox(s, p, org, address, kind=kind, owner=owner, display_name=name))
    _emit({"id": mb.id, "address": mb.primary_address, "kind": mb.kind}, as_json,
          f"added {mb.kind} archive mailbox {mb.primary_address}")


@mailbox_app.command("list")
def mailbox_list(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """List archive mailboxes with their aliases and owners."""
    from mailark.control.mailboxes import list_mailboxes

    rows = _act(lambda s, p, rt: [asdict(m) for m in list_mailboxes(s, p, org)])
    _emit(rows, as_json, _table(rows, "primary_address", "kind", "aliases", "owner"))


@alias_app.command("add")
def alias_add(mailbox: str, alias: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Add a secondary address to MAILBOX (unique within the organization)."""
    from mailark.control.mailboxes import add_alias

    _act(lambda s, p, rt: add_alias(s, p, org, mailbox, alias))
    _emit({"mailbox": mailbox, "alias": alias}, as_json, f"{alias} now reaches {mailbox}")


@alias_app.command("remove")
def alias_remove(alias: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Remove a secondary address."""
    from mailark.control.mailboxes import remove_alias

    _act(lambda s, p, rt: remove_alias(s, p, org, alias))
    _emit({"removed": alias}, as_json, f"removed address {alias}")


@alias_app.command("make-primary")
def alias_make_primary(address: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Make a secondary address its mailbox's primary address."""
    from mailark.control.mailboxes import make_primary

    _act(lambda s, p, rt: make_primary(s, p, org, address))
    _emit({"primary": address}, as_json, f"{address} is now primary")


@perm_app.command("grant")
def perm_grant(mailbox: str, org: OrgOpt, user: UserOpt = None, group: GroupOpt = None, as_json: JsonOpt = False) -> None:
    """Let a user or group read an archive mailbox."""
    from mailark.control.mailboxes import grant_read

    _act(lambda s, p, rt: grant_read(s, p, org, mailbox, user=user, group=group))
    _emit({"mailbox": mailbox, "user": user, "group": group}, as_json, f"{user or group} may read {mailbox}")


@perm_app.command("revoke")
def perm_revoke(mailbox: str, org: OrgOpt, user: UserOpt = None, group: GroupOpt = None, as_json: JsonOpt = False) -> None:
    """Take away a user's or group's read access."""
    from mailark.control.mailboxes import revoke_read

    _act(lambda s, p, rt: revoke_read(s, p, org, mailbox, user=user, group=group))
    _emit({"mailbox": mailbox, "user": user, "group": group}, as_json, f"{user or group} may no longer read {mailbox}")


@perm_app.command("list")
def perm_list(mailbox: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Who may read an archive mailbox (besides the Compliance role)."""
    from mailark.control.mailboxes import list_permissions

    rows = _act(lambda s, p, rt: list_permissions(s, p, org, mailbox))
    _emit(rows, as_json, "\n".join(rows) or "no permissions (only Compliance reads it)")


# ---- licence -------------------------------------------------------------------------------------------------


def _licence_text(v: Any) -> Callable[[], None]:
    return _table([{"figure": k, "value": val} for k, val in v.as_dict().items()], "figure", "value")


@licence_app.command("show")
def licence_show(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """The licence and what is in use."""
    from mailark.control.licensing import get_licence

    v = _act(lambda s, p, rt: get_licence(s, p, org))
    _emit(v.as_dict(), as_json, _licence_text(v))


@licence_app.command("set")
def licence_set(
    org: OrgOpt,
    users: Annotated[int | None, typer.Option("--users", help="Licensed users.")] = None,
    per_user: Annotated[int | None, typer.Option("--mailboxes-per-user", help="Archive mailboxes per licensed user.")] = None,
    storage_gb: Annotated[int | None, typer.Option("--storage-gb", help="Storage tier in GB (10, 25, 50, 100, 250, ...).")] = None,
    auto_expand: Annotated[bool | None, typer.Option("--auto-expand/--no-auto-expand", help="Grow to the next tier at 90 %.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a licence; it takes effect at once."""
    from mailark.control.licensing import change_licence

    v = _act(lambda s, p, rt: change_licence(s, p, org, users=users, mailboxes_per_user=per_user,
                                             storage_gb=storage_gb, auto_expand=auto_expand))
    _emit(v.as_dict(), as_json, _licence_text(v))


@licence_app.command("cancel-trial")
def licence_cancel_trial(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Let the trial expire at its end instead of becoming paid."""
    from mailark.control.licensing import cancel_trial

    v = _act(lambda s, p, rt: cancel_trial(s, p, org))
    _emit(v.as_dict(), as_json, f"the trial of {org} ends on {v.trial_ends_at:%Y-%m-%d} and will not become paid")


@licence_app.command("renew")
def licence_renew(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Make the licence paid from now on (ends a trial, undoes a cancellation)."""
    from mailark.control.licensing import renew

    v = _act(lambda s, p, rt: renew(s, p, org))
    _emit(v.as_dict(), as_json, f"the licence of {org} is {v.status}")


@licence_app.command("warnings")
def licence_warnings_cmd(
    org: OrgOpt,
    used_bytes: Annotated[int | None, typer.Option("--used-bytes", help="Storage in use (default: from the catalogue).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Storage at 90 %, users or mailboxes at quota, a trial about to end."""
    from mailark.control.licensing import licence_warnings
    from mailark.control.principals import visible_org

    def work(s, p, rt):  # type: ignore[no-untyped-def]
        o = visible_org(s, p, org)
        used = used_bytes
        if used is None:  # what ingest compares with the quota
            from mailark.catalog.ingest import storage_used

            used = storage_used(rt.archive_for(o))
        return [asdict(w) for w in licence_warnings(s, o, used)]

    rows = _act(work)
    _emit(rows, as_json, "\n".join(f"{w['code']}: {w['message']}" for w in rows) or "no warnings")


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

    doc = _act(work)
    _emit(doc, as_json, f"added operator {doc['operator']} ({doc['orgs']}); one-time password: {doc['one_time_password']}")


@operator_app.command("remove")
def operator_remove(name: str, as_json: JsonOpt = False) -> None:
    """Delete an operator account."""
    from mailark.control.auth import delete_operator

    _act(lambda s, p, rt: delete_operator(s, p, name))
    _emit({"removed": name}, as_json, f"removed operator {name}")


# ---- audit ----------------------------------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    incremental: Annotated[bool, typer.Option("--incremental", help="Check only the events since the newest verified "
                                                                   "checkpoint (what the pages do); default: the "
                                                                   "whole chain from the first event.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check the audit log's hash chain; exit 1 if any event was edited, removed or inserted."""
    from mailark.control.audit import verify_chain

    v = _act(lambda s, p, rt: verify_chain(s, full=not incremental))
    how = "from the first event" if v.full else f"from the checkpoint at event {v.from_seq}"
    _emit(v.as_dict(), as_json,
          f"audit chain intact: {v.events} events, head {v.head_hash} ({v.events_checked} checked {how})" if v.ok
          else f"audit chain BROKEN at event {v.first_bad_seq}: {v.reason}")
    if not v.ok:
        if not as_json:
            err.print(f"[bold red]error:[/] the audit log was tampered with at event {v.first_bad_seq}: {v.reason}",
                      highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _when(end_of_day: bool) -> Callable[[str | None], Any]:
    """A --since/--until value parsed as the API parses it; a bad one is wrong usage (exit 2)."""
    def parse(text: str | None) -> Any:
        from mailark.control.audit import parse_time

        try:
            return parse_time(text, end_of_day=end_of_day)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
    return parse


@audit_app.command("list")
def audit_list(
    org: Annotated[str | None, typer.Option("--org", help="Organization (default: the whole deployment).")] = None,
    action: Annotated[str, typer.Option("--action", help="Exact action, or a prefix ending in '.' or '*' "
                                                         "(e.g. content.).")] = "",
    actor: Annotated[str, typer.Option("--actor", help="The acting login, exact.")] = "",
    outcome: Annotated[str, typer.Option("--outcome", help="ok, failed, denied, ...")] = "",
    target: Annotated[str, typer.Option("--target", help="A part of the target, any case.")] = "",
    since: Annotated[str | None, typer.Option("--since", callback=_when(False), metavar="WHEN",
                                              help="Events at or after: YYYY-MM-DD or ISO 8601 (no zone = UTC).")] = None,
    until: Annotated[str | None, typer.Option("--until", callback=_when(True), metavar="WHEN",
                                              help="Events before; a date alone includes that whole day.")] = None,
    after: Annotated[int, typer.Option("--after", min=0, help="Only events after this sequence number, oldest "
                                                              "first (followers: the last seq seen).")] = 0,
    before: Annotated[int | None, typer.Option("--before", min=1, help="Only events before this sequence number, "
                                                                       "newest first (the cursor of the next "
                                                                       "older page).")] = None,
    newest: Annotated[bool, typer.Option("--newest", help="Newest first from the latest event (then page on "
                                                          "with --before).")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Events per page.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List audit events, filtered, a page at a time (oldest first, or newest first with --before/--newest).

    When more events match, the next page's option goes to stderr ("more: --before N" or "more: --after N");
    with --json stdout stays the list of events and stderr gets {"older": N, "newer": M} (null: none).
    """
    from mailark.control.audit import AuditFilter, list_events

    f = AuditFilter(action=action, actor=actor, outcome=outcome, target=target, since=since,  # type: ignore[arg-type]
                    until=until)  # type: ignore[arg-type]
    desc = newest or before is not None
    page = _act(lambda s, p, rt: list_events(s, p, org, filters=f, after_seq=after, before_seq=before,
                                             newest_first=desc, limit=limit))
    rows = [asdict(e) for e in page.events]
    _emit(rows, as_json, _table(rows, "seq", "at", "actor", "action", "target", "outcome"))
    if as_json:
        sys.stderr.write(json.dumps({"older": page.older, "newer": page.newer}) + "\n")
    elif (page.older if desc else page.newer) is not None:
        nxt = f"--before {page.older}" if desc else f"--after {page.newer}"
        err.print(f"more: {nxt}", highlight=False, soft_wrap=True)
