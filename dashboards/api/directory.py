"""Directory-sync profiles of an organization (Admin): add, list, change, remove, test, sync (or dry-run).

Secrets (bind password, client secret) go in and never come out. A sync started here runs at once,
as the admin who asked (so the audit log names them), and answers with its report; with
`dry_run=true` the report is the plan: what would change and what would be refused.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from mailark.control import directory_profiles as dp
from mailark.sources.directory.sync import probe_profile, run_named
from mailark.control.orgs import ControlError
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import OkOut, Role, Strict, Utc
from mailark.dashboards.deps import DB, Acting, Ctx

router = APIRouter(prefix=ORG_PATH + "/directory", tags=["directory"])

Policy = Literal["remove", "keep"]
LDAP_ONLY = {"url", "security", "ca_pem", "ca_file", "bind_dn", "base_dn", "user_filter", "group_filter", "login_domain"}
M365_ONLY = {"tenant_id", "client_id", "graph_url", "authority_url", "include_shared_mailboxes"}


class _PolicyIn(Strict):
    deleted_users: Policy | None = Field(default=None, examples=["remove"],
                                         description="users deleted in the directory: remove (mailbox stays) or keep (disabled)")
    disabled_users: Policy | None = Field(default=None, examples=["keep"])
    deleted_groups: Policy | None = Field(default=None, examples=["remove"])
    role_map: dict[str, Role] | None = Field(default=None, examples=[{"archive-compliance": "Compliance"}],
                                            description="directory group name -> role of its members")
    max_removals: int | None = Field(default=None, ge=0, examples=[10],
                                     description="accidental-delete guard: a sync removing or disabling more users "
                                                 "stops (default 10)")
    max_removal_percent: int | None = Field(default=None, ge=0, le=100, examples=[10],
                                            description="the same as a share of the synced users (default 10)")
    interval_seconds: int = Field(default=3600, ge=dp.MIN_INTERVAL, le=7 * 86400, examples=[3600])


class LdapProfileIn(_PolicyIn):
    name: str = Field(min_length=1, max_length=100, examples=["corp-ad"])
    preset: Literal["ad", "ldap"] = Field(default="ad", examples=["ad"],
                                          description="ad: Active Directory; ldap: inetOrgPerson/groupOfNames/posixGroup")
    url: str = Field(max_length=400, examples=["ldaps://127.0.0.1:636"], description="ldap://host[:port] or ldaps://host[:port]")
    security: Literal["starttls", "ldaps", "none"] = Field(default="starttls", examples=["ldaps"])
    ca_pem: str | None = Field(default=None, max_length=100_000, description="the CA certificate to trust, as PEM text "
                               "(-----BEGIN CERTIFICATE-----...); empty: the system's trusted CAs")
    ca_file: str | None = Field(default=None, max_length=1000, description="no longer accepted (403): a path on the "
                                "archive's server; give ca_pem instead (docs/security-sources.md)")
    bind_dn: str = Field(min_length=1, max_length=1000, examples=["CN=mailark-sync,OU=Service,DC=acme,DC=example"])
    bind_password: str = Field(min_length=1, max_length=1024, examples=["the service account's password"])
    base_dn: str = Field(min_length=1, max_length=1000, examples=["DC=acme,DC=example"])
    user_filter: str | None = Field(default=None, max_length=2000)
    group_filter: str | None = Field(default=None, max_length=2000)
    attributes: dict[str, str | None] | None = Field(default=None, description="overrides of the preset's attribute mapping")
    login_domain: str | None = Field(default=None, max_length=253)
    domains: list[str] = Field(min_length=1, max_length=100, examples=[["acme.example"]],
                               description="mail domains whose users this directory manages (one directory per domain)")
    directory_login: bool = Field(default=True, description="synced users log in with their directory password")


class M365ProfileIn(_PolicyIn):
    name: str = Field(min_length=1, max_length=100, examples=["m365"])
    tenant_id: str = Field(min_length=1, max_length=100, examples=["00000000-0000-0000-0000-000000000001"])
    client_id: str = Field(min_length=1, max_length=100, examples=["00000000-0000-0000-0000-000000000002"])
    client_secret: str = Field(min_length=1, max_length=1024, examples=["the app's client secret"])
    include_shared_mailboxes: bool = True
    graph_url: str | None = Field(default=None, max_length=400, description="Graph endpoint (default: Microsoft's)")
    authority_url: str | None = Field(default=None, max_length=400, description="token endpoint base (default: Microsoft's)")
    domains: list[str] = Field(min_length=1, max_length=100, examples=[["acme.example"]])


class ProfileChangeIn(Strict):
    enabled: bool | None = Field(default=None, examples=[True])
    interval_seconds: int | None = Field(default=None, ge=dp.MIN_INTERVAL, le=7 * 86400)
    deleted_users: Policy | None = None
    disabled_users: Policy | None = None
    deleted_groups: Policy | None = None
    role_map: dict[str, Role] | None = None
    max_removals: int | None = Field(default=None, ge=0)
    max_removal_percent: int | None = Field(default=None, ge=0, le=100)
    directory_login: bool | None = None
    bind_password: str | None = Field(default=None, min_length=1, max_length=1024)
    client_secret: str | None = Field(default=None, min_length=1, max_length=1024)
    # the connection (LDAP): server, credentials' DN, where to search, filters
    url: str | None = Field(default=None, min_length=1, max_length=400)
    security: Literal["starttls", "ldaps", "none"] | None = None
    ca_pem: str | None = Field(default=None, max_length=100_000, description="the CA certificate as PEM text; "
                               "empty: the system's trusted CAs")
    ca_file: str | None = Field(default=None, max_length=1000, description="only the stored value or empty (drops it); "
                                "a new path is refused (403): give ca_pem")
    bind_dn: str | None = Field(default=None, min_length=1, max_length=1000)
    base_dn: str | None = Field(default=None, min_length=1, max_length=1000)
    user_filter: str | None = Field(default=None, min_length=1, max_length=2000)
    group_filter: str | None = Field(default=None, min_length=1, max_length=2000)
    login_domain: str | None = Field(default=None, max_length=253, description="empty: none")
    # the connection (Microsoft 365)
    tenant_id: str | None = Field(default=None, min_length=1, max_length=100)
    client_id: str | None = Field(default=None, min_length=1, max_length=100)
    graph_url: str | None = Field(default=None, max_length=400)
    authority_url: str | None = Field(default=None, max_length=400)
    include_shared_mailboxes: bool | None = None
    domains: list[str] | None = Field(default=None, min_length=1, max_length=100,
                                      description="the mail domains it manages (replaces the list)")


class DirectoryOut(BaseModel):
    name: str
    kind: str
    config: dict[str, Any] = Field(description="connection, mapping and policies (never the secret)")
    domains: list[str]
    has_secret: bool
    interval_seconds: int
    enabled: bool
    next_run_at: Utc | None = None
    last_run_at: Utc | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_report: dict[str, Any] | None = None


class ProbeOut(BaseModel):
    ok: bool
    error: str | None = None
    users: int | None = None
    groups: int | None = None
    problems: list[str] = []
    sample_users: list[str] = []
    sample_groups: list[str] = []


class ChangeOut(BaseModel):
    action: str = Field(description="user.create, user.rename, mailbox.addresses, member.add, role.assign, user.remove, ...")
    target: str
    details: dict[str, Any]
    status: str = Field(description="done (would be done, in a dry run), refused (with the reason) or skipped")
    reason: str | None = None


class SyncReportOut(BaseModel):
    org: str
    profile: str
    dry_run: bool
    status: str = Field(description="ok, partial (some changes refused or entries left out) or failed")
    message: str
    users_seen: int
    groups_seen: int
    summary: dict[str, dict[str, int]]
    not_added_for_licence: list[str]
    problems: list[str]
    error: str | None = None
    mass_removal: dict[str, int] | None = Field(
        default=None, description="set when the accidental-delete guard stopped the sync: leaving, synced, percent, "
                                  "max_removals, max_removal_percent (sync again with allow_mass_removal=true)")
    changes: list[ChangeOut]


def _out(v: dp.DirectoryView) -> DirectoryOut:
    d = v.as_dict()
    return DirectoryOut(**{k: d[k] for k in DirectoryOut.model_fields})


def _policy_settings(body: _PolicyIn) -> dict[str, Any]:
    return {"deleted_users": body.deleted_users, "disabled_users": body.disabled_users,
            "deleted_groups": body.deleted_groups, "role_map": body.role_map, "max_removals": body.max_removals,
            "max_removal_percent": body.max_removal_percent}


@router.get("", response_model=list[DirectoryOut], responses=ERRORS, summary="The organization's directory profiles")
def list_(org: str, p: Acting, s: DB) -> list[DirectoryOut]:
    return [_out(v) for v in dp.list_profiles(s, p, org)]


@router.post("/ldap", response_model=DirectoryOut, status_code=status.HTTP_201_CREATED, responses=ERRORS,
             summary="Add an LDAP / Active Directory server")
def add_ldap(org: str, body: LdapProfileIn, p: Acting, s: DB, ctx: Ctx) -> DirectoryOut:
    settings = {**body.model_dump(exclude={"name", "bind_password", "domains", "interval_seconds"}),
                **_policy_settings(body)}
    return _out(dp.create_profile(s, p, org, "ldap", body.name, settings, {"bind_password": body.bind_password},
                                  ctx.runtime.master_key, domains=body.domains, interval_seconds=body.interval_seconds))


@router.post("/m365", response_model=DirectoryOut, status_code=status.HTTP_201_CREATED, responses=ERRORS,
             summary="Add a Microsoft 365 tenant (Graph, app-only)")
def add_m365(org: str, body: M365ProfileIn, p: Acting, s: DB, ctx: Ctx) -> DirectoryOut:
    settings = {"tenant_id": body.tenant_id, "client_id": body.client_id, "graph_url": body.graph_url,
                "authority_url": body.authority_url, "include_shared_mailboxes": body.include_shared_mailboxes,
                **_policy_settings(body)}
    return _out(dp.create_profile(s, p, org, "m365", body.name, settings, {"client_secret": body.client_secret},
                                  ctx.runtime.master_key, domains=body.domains, interval_seconds=body.interval_seconds))


@router.get("/{profile}", response_model=DirectoryOut, responses=ERRORS, summary="One directory profile")
def get(org: str, profile: str, p: Acting, s: DB) -> DirectoryOut:
    return _out(dp.get_profile(s, p, org, profile))


@router.patch("/{profile}", response_model=DirectoryOut, responses=ERRORS,
              summary="Change the connection, domains, policies, role mapping, schedule or credentials")
def change(org: str, profile: str, body: ProfileChangeIn, p: Acting, s: DB, ctx: Ctx) -> DirectoryOut:
    kind = dp.get_profile(s, p, org, profile).kind
    foreign = M365_ONLY | {"client_secret"} if kind == "ldap" else LDAP_ONLY | {"bind_password"}
    other = {k for k, v in body.model_dump(include=foreign).items() if v is not None}
    if other:
        raise ControlError(f"{', '.join(sorted(other))}: not a setting of {kind} profiles")
    settings = {k: v for k, v in body.model_dump(include={"deleted_users", "disabled_users", "deleted_groups",
                                                          "role_map", "directory_login", "max_removals",
                                                          "max_removal_percent", *LDAP_ONLY, *M365_ONLY}).items()
                if v is not None}
    secret = ({"bind_password": body.bind_password} if body.bind_password else
              {"client_secret": body.client_secret} if body.client_secret else None)
    return _out(dp.update_profile(s, p, org, profile, ctx.runtime.master_key, settings=settings or None, secret=secret,
                                  interval_seconds=body.interval_seconds, enabled=body.enabled, domains=body.domains))


@router.delete("/{profile}", response_model=OkOut, responses=ERRORS,
               summary="Remove a profile (what it synced stays, as ordinary archive objects)")
def remove(org: str, profile: str, p: Acting, s: DB) -> OkOut:
    dp.remove_profile(s, p, org, profile)
    return OkOut()


@router.post("/{profile}/test", response_model=ProbeOut, responses=ERRORS,
             summary="Connect and read the directory, changing nothing")
def test(org: str, profile: str, p: Acting, ctx: Ctx) -> ProbeOut:
    return ProbeOut(**probe_profile(ctx.runtime, p, org, profile))


@router.post("/{profile}/sync", response_model=SyncReportOut, responses=ERRORS,
             summary="Sync now; with dry_run=true: the plan (what would change, what would be refused)")
def sync(org: str, profile: str, p: Acting, ctx: Ctx, dry_run: bool = False,
         allow_mass_removal: bool = False) -> SyncReportOut:
    """allow_mass_removal=true: proceed although more users would go than the profile's guard allows."""
    return SyncReportOut(**run_named(ctx.runtime, p, org, profile, dry_run=dry_run,
                                     allow_mass_removal=allow_mass_removal).as_dict())

