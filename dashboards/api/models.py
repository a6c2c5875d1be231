"""Request and response bodies of the REST API (pydantic), shared by the routers.

Examples on request fields are used by the docs and by the tests that walk /openapi.json.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mailark.control.audit import AuditEntry


def _utc(d: datetime) -> datetime:
    """SQLite hands back naive datetimes; they are UTC, and RFC 3339 wants the offset said."""
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


Utc = Annotated[datetime, AfterValidator(_utc)]

TOTP_CODE = r"^\s*[0-9]{6,8}\s*$"  # ASCII digits only (control.auth compares str digests)
Role = Literal["Admin", "Reader", "Compliance", "Auditor"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    error: str = Field(description="what went wrong and what to do, in words for a person")


class OkOut(BaseModel):
    ok: bool = True


# ---- auth -----------------------------------------------------------------------------------------


class LoginIn(Strict):
    login: str = Field(max_length=320, examples=["admin@acme"], description="name@domain, or an operator's name")
    password: str = Field(max_length=1024, examples=["correct horse battery"])
    totp: str | None = Field(default=None, pattern=TOTP_CODE, examples=["123456"])


class MeOut(BaseModel):
    kind: str
    login: str
    org: str | None = Field(description="the user's organization (None for operators)")
    orgs: list[str] | None = Field(default=None, description="organizations a limited operator serves")
    via: str = Field(description="token or session")
    totp_enrolment_required: bool = False


class LoginOut(MeOut):
    must_change_password: bool = False
    expires_at: Utc


class TokenIn(Strict):
    name: str = Field(min_length=1, max_length=100, examples=["backup-script"])
    ttl_days: int | None = Field(default=None, ge=1, le=3650, examples=[90], description="days until it expires (default 90)")
    scope: Literal["admin", "read"] = Field(default="admin", description="admin: acts as you; read: may only read (GET)")


class TokenOut(BaseModel):
    id: str
    name: str
    created_at: Utc | None = None
    expires_at: Utc | None = None
    revoked_at: Utc | None = None
    last_used_at: Utc | None = None
    scope: str = "admin"


class NewTokenOut(BaseModel):
    id: str
    name: str
    token: str = Field(description="shown only this once: store it now")
    expires_at: Utc | None = None


class PasswordChangeIn(Strict):
    old_password: str = Field(max_length=1024, examples=["old password here"])
    new_password: str = Field(max_length=1024, examples=["a new long password"])
    end_tokens: bool = Field(default=False, description="also revoke your API tokens (your other web sessions always end)")


class TotpBeginOut(BaseModel):
    secret: str = Field(description="shown only this once")
    uri: str = Field(description="otpauth:// URI for a QR code")


class TotpConfirmIn(Strict):
    code: str = Field(pattern=TOTP_CODE, examples=["123456"])


# ---- organizations and licence ------------------------------------------------------------------


class OrgIn(Strict):
    name: str = Field(max_length=63, examples=["acme"], description="a-z 0-9 _ -: also the default domain")
    users: int | None = Field(default=None, ge=1, le=10_000_000, examples=[25])
    storage_gb: int | None = Field(default=None, examples=[10])
    mailboxes_per_user: int | None = Field(default=None, ge=1, le=1000, examples=[2])
    trial: bool | None = None
    auto_expand: bool = False
    send_invite: bool = Field(default=False, description="e-mail the first admin a one-time set-password link (valid "
                                                         "72 h) through the SMTP relay instead of showing a password")
    invite_to: str | None = Field(default=None, max_length=320, description="where to send it (required with send_invite: "
                                                                         "admin@NAME is not a mail address)")


class OrgOut(BaseModel):
    name: str
    created_at: Utc
    mfa_required: bool
    # Every user reads their own and granted mailboxes (true), or only users with the Reader role (false)
    readers_by_default: bool = True
    # Set for the organization's Admins and Compliance while an MSP operator holds an active support grant.
    support_access_active: bool = False


class CreatedOrgOut(OrgOut):
    admin_login: str
    admin_password: str | None = Field(description="one-time password of the first admin: shown only this once "
                                                   "(null when an invitation was sent)")
    invite_sent_to: str | None = None


class MfaIn(Strict):
    required: bool = Field(examples=[True])


class ReadersIn(Strict):
    by_default: bool = Field(examples=[False], description="true: every user is a Reader by rule; false: only "
                                                           "users given the Reader role read mail")


class LicenceOut(BaseModel):
    org: str
    status: Literal["trial", "paid", "expired", "cancelled", "grace", "locked"]
    licensed_users: int
    users: int
    mailboxes_per_user: int
    mailbox_quota: int
    mailboxes: int
    storage_gb: int
    storage_quota_bytes: int
    auto_expand: bool
    trial_ends_at: Utc | None
    cancelled_at: Utc | None
    # a cancelled subscription (issue 14): it ends then; the grace period ends, and deletion is due, then
    subscription_ends_at: Utc | None = None
    deletion_due_at: Utc | None = None
    # over licence (issue 14): "users" and/or "mailboxes" when more are in use than licensed (a downgraded
    # order recorded before the customer removed them); nothing new can be added until it fits
    over_licence: list[Literal["users", "mailboxes"]] = []


class LicenceChangeIn(Strict):
    users: int | None = Field(default=None, ge=1, le=10_000_000, examples=[50])
    mailboxes_per_user: int | None = Field(default=None, ge=1, le=1000)
    storage_gb: int | None = Field(default=None, examples=[25])
    auto_expand: bool | None = None


class WarningOut(BaseModel):
    code: Literal["storage", "users", "mailboxes", "trial"]
    message: str
    notice: str = Field(default="", description="the sentence's code, e.g. storage_high; with params for other languages")
    params: dict[str, Any] = Field(default_factory=dict, examples=[{"percent": 92, "used_gb": 46, "quota_gb": 50}])


# ---- domains, users, groups, roles ------------------------------------------------------------


class DomainIn(Strict):
    name: str = Field(max_length=253, examples=["acme.example"])
    kind: Literal["local", "global"] = "local"


class DomainOut(BaseModel):
    name: str
    kind: str
    is_default: bool


class UserIn(Strict):
    login: str = Field(max_length=320, examples=["ann@acme"])
    password: str | None = Field(default=None, max_length=1024, description="omit to get a one-time password")
    display_name: str | None = Field(default=None, max_length=200, examples=["Ann Smith"])
    with_mailbox: bool = Field(default=False, description="also create the user's archive mailbox")
    roles: list[Role] = Field(default_factory=list, max_length=4)
    send_invite: bool = Field(default=False, description="e-mail a one-time set-password link (valid 72 h) through the "
                                                         "SMTP relay instead of returning a one-time password")
    invite_to: str | None = Field(default=None, max_length=320, description="where to send it (default: the login)")


class UserOut(BaseModel):
    login: str
    display_name: str | None
    active: bool
    must_change_password: bool
    totp_enabled: bool
    created_at: Utc
    directory: str | None = Field(default=None, description="the directory profile that syncs this user (read-only here)")


class NewUserOut(UserOut):
    one_time_password: str | None = Field(description="set when no password was given: shown only this once")
    mailbox: str | None = Field(description="primary address of the archive mailbox created with the user")
    invite_sent_to: str | None = None


class ActiveIn(Strict):
    active: bool = Field(examples=[False])


class PasswordResetOut(BaseModel):
    login: str
    one_time_password: str = Field(description="shown only this once")


class RolesOut(BaseModel):
    login: str
    roles: list[str]


class GroupIn(Strict):
    name: str = Field(max_length=100, examples=["legal"])


class GroupOut(BaseModel):
    name: str
    members: list[str]
    roles: list[str]


class RoleIn(Strict):
    """Exactly one of group or user."""

    role: Role = Field(examples=["Reader"])
    group: str | None = Field(default=None, max_length=100, examples=["admins"])
    user: str | None = Field(default=None, max_length=320)


# ---- mailboxes, aliases, permissions --------------------------------------------------------------


class MailboxIn(Strict):
    address: str = Field(max_length=320, examples=["sales@acme"])
    kind: Literal["user", "shared", "journal"] = "user"
    owner: str | None = Field(default=None, max_length=320, description="login of the user (user mailboxes)")
    display_name: str | None = Field(default=None, max_length=200)


class MailboxOut(BaseModel):
    id: str
    kind: str
    primary_address: str
    aliases: list[str]
    owner: str | None
    display_name: str | None
    messages: int | None = Field(None, description="Copies archived in the mailbox (in the mailbox list)")
    size_bytes: int | None = Field(None, description="Their size as received, in bytes (in the mailbox list)")
    retired_at: datetime | None = Field(None, description="Set while the mailbox is retired: no new mail, still readable")


class AliasIn(Strict):
    alias: str = Field(max_length=320, examples=["sales-team@acme"])


class PermissionsOut(BaseModel):
    mailbox: str
    readers: list[str] = Field(description="'user LOGIN' or 'group NAME' (Compliance holders read every mailbox)")


# ---- audit --------------------------------------------------------------------------------------------


# An audit event leaves the API exactly as control.audit describes it.
AuditEntryOut = AuditEntry


class ChainOut(BaseModel):
    ok: bool
    first_bad_seq: int | None = None
    reason: str | None = None
    events: int | None = Field(default=None, description="deployment-wide figures: operators only")
    head_seq: int | None = None
    head_hash: str | None = None
    full: bool | None = Field(default=None, description="this check walked from the first event (operators only)")
    from_seq: int | None = Field(default=None, description="where this check started: the newest verified "
                                                           "checkpoint, or 1 (operators only)")
    events_checked: int | None = Field(default=None, description="events this check recomputed (operators only)")
    last_full_at: datetime | None = Field(default=None, description="the newest full verification; none: never")
    full_is_stale: bool = Field(default=False, description="no full verification, or the last is over 2 days old: "
                                                           "edits before the checkpoint are not yet checked")


# ---- issue 14: support access grants (control.support) ----


class SupportGrantIn(BaseModel):
    operator: str = Field(min_length=1, max_length=64, examples=["msp"], description="the MSP operator's name")
    mailboxes: list[str] = Field(min_length=1, max_length=1000, examples=[["bea@acme"]],
                                 description="archive mailboxes the operator may read")
    hours: float = Field(default=24, gt=0, le=168)
    reason: str = Field(default="", max_length=1000)


class SupportGrantOut(BaseModel):
    id: str
    operator: str
    mailboxes: list[str]
    reason: str
    granted_by: str
    created_at: Utc
    expires_at: Utc
    revoked_at: Utc | None
    revoked_by: str | None
    active: bool
