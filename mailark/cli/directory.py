"""`mailark directory ...`: directory-sync profiles (LDAP / Active Directory, Microsoft 365) and syncs.

Registered from `mailark.cli` with `register(app)`. The CLI on the server acts as the deployment
operator; every change is audited. Secrets never go on the command line (they would end up in shell
history and `ps`): the bind password / client secret comes from standard input (--bind-password-stdin,
--client-secret-stdin), an environment variable (MAILARK_DIRECTORY_BIND_PASSWORD,
MAILARK_DIRECTORY_CLIENT_SECRET) or a hidden prompt. Exit 0 on success (a sync that refused some
changes is a success that says so on stderr), 1 on a refusal or a failed sync.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from mailark.cli.common import JsonOpt, OrgOpt, act, emit, err, fail, read_ca_file, table

directory_app = typer.Typer(no_args_is_help=True, help="Directory synchronization (LDAP / Active Directory, Microsoft 365).")

BIND_ENV = "MAILARK_DIRECTORY_BIND_PASSWORD"
SECRET_ENV = "MAILARK_DIRECTORY_CLIENT_SECRET"

DomainOpt = Annotated[list[str], typer.Option("--domain", help="A mail domain whose users this directory manages (repeatable).")]
Policy = Annotated[str | None, typer.Option(help="remove or keep.")]
RoleOpt = Annotated[list[str] | None, typer.Option("--role", help="GROUP=ROLE: members of the directory group get the role "
                                                                   "(repeatable), e.g. archive-compliance=Compliance.")]
IntervalOpt = Annotated[int, typer.Option("--interval", help="Seconds between scheduled syncs.")]
MaxRemovals = Annotated[int | None, typer.Option("--max-removals", help="Accidental-delete guard: a sync that removes "
                                                 "or disables more users stops (default 10).")]
MaxPercent = Annotated[int | None, typer.Option("--max-removal-percent", help="The same as a share of the synced users "
                                                "(default 10).")]


def register(app: typer.Typer) -> None:
    app.add_typer(directory_app, name="directory")


def _secret(from_stdin: bool, env: str, prompt: str) -> str:
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    elif os.environ.get(env):
        value = os.environ[env]
    elif sys.stdin.isatty():
        value = typer.prompt(prompt, hide_input=True)
    else:
        fail(f"no {prompt.lower()}: pipe it with the --*-stdin option, set {env}, or run in a terminal to be asked")
    if not value:
        fail(f"the {prompt.lower()} is empty")
    return value


def _roles(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    out = {}
    for p in pairs:
        group, sep, role = p.rpartition("=")
        if not sep or not group.strip() or not role.strip():
            fail(f"--role {p!r}: write GROUP=ROLE, e.g. archive-compliance=Compliance")
        out[group.strip()] = role.strip()
    return out


def _policies(deleted_users: str | None, disabled_users: str | None, deleted_groups: str | None,
              role: list[str] | None, max_removals: int | None = None,
              max_removal_percent: int | None = None) -> dict[str, Any]:
    return {"deleted_users": deleted_users, "disabled_users": disabled_users, "deleted_groups": deleted_groups,
            "role_map": _roles(role), "max_removals": max_removals, "max_removal_percent": max_removal_percent}


def _view_text(v: dict[str, Any]) -> str:
    cfg = v["config"]
    lines = [f"{v['name']} ({v['kind']}, {cfg.get('preset')}) of {v['org']}: domains {', '.join(v['domains'])}",
             f"  every {v['interval_seconds']} s, {'enabled' if v['enabled'] else 'disabled'}; last run: "
             f"{v['last_run_at'] or 'never'} {v['last_status'] or ''}"]
    if v["last_error"]:
        lines.append(f"  last error: {v['last_error']}")
    for k in ("url", "security", "bind_dn", "base_dn", "user_filter", "group_filter", "tenant_id", "client_id",
              "deleted_users", "disabled_users", "deleted_groups", "role_map", "max_removals", "max_removal_percent",
              "directory_login"):
        if k in cfg:
            lines.append(f"  {k}: {cfg[k]}")
    return "\n".join(lines)


@directory_app.command("add-ldap")
def add_ldap(
    name: Annotated[str, typer.Argument(help="A name for this directory (unique in the organization).")],
    org: OrgOpt,
    url: Annotated[str, typer.Option(help="ldap://host[:port] or ldaps://host[:port].")],
    bind_dn: Annotated[str, typer.Option("--bind-dn", help="The account the sync reads the directory as.")],
    base_dn: Annotated[str, typer.Option("--base-dn", help="Where users and groups are searched.")],
    domain: DomainOpt,
    preset: Annotated[str, typer.Option(help="ad (Active Directory) or ldap (inetOrgPerson).")] = "ad",
    security: Annotated[str, typer.Option(help="starttls, ldaps or none (plain text: same host only).")] = "starttls",
    ca_file: Annotated[str | None, typer.Option("--ca-file", help="PEM file (on this machine) of the CA that signed the server's certificate; its text is stored.")] = None,
    user_filter: Annotated[str | None, typer.Option("--user-filter")] = None,
    group_filter: Annotated[str | None, typer.Option("--group-filter")] = None,
    login_attr: Annotated[str | None, typer.Option("--login-attr", help="Attribute holding the login (e.g. mail, uid).")] = None,
    alias_attr: Annotated[str | None, typer.Option("--alias-attr", help="Attribute holding alias addresses.")] = None,
    login_domain: Annotated[str | None, typer.Option("--login-domain", help="With a uid login: the domain after the @.")] = None,
    deleted_users: Policy = None,
    disabled_users: Policy = None,
    deleted_groups: Policy = None,
    role: RoleOpt = None,
    max_removals: MaxRemovals = None,
    max_removal_percent: MaxPercent = None,
    directory_login: Annotated[bool, typer.Option("--directory-login/--no-directory-login",
                                                  help="Synced users log in with their directory password.")] = True,
    interval: IntervalOpt = 3600,
    bind_password_stdin: Annotated[bool, typer.Option("--bind-password-stdin", help="Read the bind password from stdin.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add an LDAP / Active Directory server whose users, groups and roles are synced."""
    from mailark.control.directory_profiles import create_profile

    password = _secret(bind_password_stdin, BIND_ENV, "Bind password")
    attrs = {k: v for k, v in (("login", login_attr), ("aliases", alias_attr)) if v}
    settings = {"preset": preset, "url": url, "security": security, "ca_pem": read_ca_file(ca_file), "bind_dn": bind_dn,
                "base_dn": base_dn, "user_filter": user_filter, "group_filter": group_filter,
                "attributes": attrs or None, "login_domain": login_domain, "directory_login": directory_login,
                "aliases_style": ("proxy" if alias_attr.lower() == "proxyaddresses" else "plain") if alias_attr else None,
                **_policies(deleted_users, disabled_users, deleted_groups, role, max_removals, max_removal_percent)}
    v = act(lambda s, p, rt: create_profile(s, p, org, "ldap", name, settings, {"bind_password": password},
                                             rt.master_key, domains=domain, interval_seconds=interval).as_dict())
    emit(v, as_json, f"added directory {name} to {org}; check it with: mailark directory test {name} --org {org}")


@directory_app.command("add-m365")
def add_m365(
    name: Annotated[str, typer.Argument(help="A name for this tenant (unique in the organization).")],
    org: OrgOpt,
    tenant_id: Annotated[str, typer.Option("--tenant-id", help="The Microsoft 365 (Entra ID) tenant id.")],
    client_id: Annotated[str, typer.Option("--client-id", help="The app registration's client id (app-only access).")],
    domain: DomainOpt,
    shared_mailboxes: Annotated[bool, typer.Option("--shared-mailboxes/--no-shared-mailboxes",
                                                   help="Also sync shared mailboxes (no licence needed).")] = True,
    graph_url: Annotated[str | None, typer.Option("--graph-url", help="Graph endpoint (default: Microsoft's).")] = None,
    authority_url: Annotated[str | None, typer.Option("--authority-url", help="Token endpoint base (default: Microsoft's).")] = None,
    deleted_users: Policy = None,
    disabled_users: Policy = None,
    deleted_groups: Policy = None,
    role: RoleOpt = None,
    max_removals: MaxRemovals = None,
    max_removal_percent: MaxPercent = None,
    interval: IntervalOpt = 3600,
    client_secret_stdin: Annotated[bool, typer.Option("--client-secret-stdin", help="Read the client secret from stdin.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a Microsoft 365 tenant (Graph, app-only) whose users, shared mailboxes and groups are synced."""
    from mailark.control.directory_profiles import create_profile

    secret = _secret(client_secret_stdin, SECRET_ENV, "Client secret")
    settings = {"tenant_id": tenant_id, "client_id": client_id, "include_shared_mailboxes": shared_mailboxes,
                "graph_url": graph_url, "authority_url": authority_url,
                **_policies(deleted_users, disabled_users, deleted_groups, role, max_removals, max_removal_percent)}
    v = act(lambda s, p, rt: create_profile(s, p, org, "m365", name, settings, {"client_secret": secret},
                                             rt.master_key, domains=domain, interval_seconds=interval).as_dict())
    emit(v, as_json, f"added Microsoft 365 tenant {name} to {org}")


@directory_app.command("list")
def list_(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """The organization's directory profiles and how their last sync went."""
    from mailark.control.directory_profiles import list_profiles

    rows = act(lambda s, p, rt: [v.as_dict() for v in list_profiles(s, p, org)])
    for r in rows:
        r["domains_text"] = ", ".join(r["domains"])
    emit(rows, as_json, table(rows, "name", "kind", "domains_text", "enabled", "last_run_at", "last_status"))


@directory_app.command("show")
def show(name: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """One profile: connection, mapping, policies and the last sync (never its secret)."""
    from mailark.control.directory_profiles import get_profile

    v = act(lambda s, p, rt: get_profile(s, p, org, name).as_dict())
    emit(v, as_json, _view_text(v))


@directory_app.command("remove")
def remove(name: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Remove a profile; what it synced stays, as ordinary archive users, groups and mailboxes."""
    from mailark.control.directory_profiles import remove_profile

    released = act(lambda s, p, rt: remove_profile(s, p, org, name))
    emit({"removed": name, "released": released}, as_json,
          f"removed directory {name}; {released['users']} user(s) are local now (give them a password with "
          f"mailark user reset-password)")


@directory_app.command("test")
def test(name: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Connect and read the directory without changing anything."""
    from mailark.sources.directory.sync import probe_profile

    doc = act(lambda s, p, rt: probe_profile(rt, p, org, name))
    if not doc["ok"]:
        if as_json:
            emit(doc, True, "")
        fail(doc["error"])
    emit(doc, as_json, f"ok: {doc['users']} users and {doc['groups']} groups found "
                        f"(e.g. {', '.join(doc['sample_users']) or '-'})"
                        + (f"; {len(doc['problems'])} entries left out: {doc['problems'][:3]}" if doc["problems"] else ""))


@directory_app.command("sync")
def sync(
    name: str,
    org: OrgOpt,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")] = False,
    allow_mass_removal: Annotated[bool, typer.Option(
        "--allow-mass-removal", help="Proceed although the sync removes or disables more users than the profile's "
                                     "max_removals / max_removal_percent allow (after checking the plan).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Sync now (also runs on its schedule). With --dry-run: the plan, and what would be refused."""
    from mailark.sources.directory.sync import run_named

    report = act(lambda s, p, rt: run_named(rt, p, org, name, dry_run=dry_run, allow_mass_removal=allow_mass_removal))
    doc = report.as_dict()
    if report.status == "failed":
        if as_json:
            emit(doc, True, "")
        elif report.mass_removal is not None:  # who would have gone, so the admin can judge
            from mailark.cli.common import out

            for c in report.changes:
                if c.action in ("user.remove", "user.disable"):
                    out.print(f"stopped  {c.action:18} {c.target}", highlight=False, soft_wrap=True)
        fail(report.message())

    def text() -> None:
        from mailark.cli.common import out

        for c in report.changes:
            mark = {"done": "would" if dry_run else "done", "refused": "REFUSED", "skipped": "skipped"}[c.status]
            extra = f": {c.reason}" if c.reason else ""
            out.print(f"{mark:8} {c.action:18} {c.target}{extra}", highlight=False, soft_wrap=True)
        out.print(report.message(), highlight=False, soft_wrap=True)

    emit(doc, as_json, text)
    if report.status == "partial":
        err.print(f"[yellow]warning:[/] {len(report.refused)} change(s) refused, {len(report.problems)} "
                  f"entr(y/ies) left out: see above", highlight=False)
