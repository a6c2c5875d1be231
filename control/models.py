"""Control-plane tables (SQLAlchemy 2). Alembic migrations in `control/migrations` create them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

GB = 1_000_000_000


class Base(DeclarativeBase):
    pass


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The name is the organization's default domain: a-z 0-9 _ -, unique, immutable.
    name: Mapped[str] = mapped_column(String(63), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    storage_quota_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=10 * GB)
    active_data_key_id: Mapped[str] = mapped_column(String(16), nullable=False)
    # Every user must enrol TOTP before a session may do more than enrol.
    mfa_required: Mapped[bool] = mapped_column(nullable=False, default=False, server_default=false())
    # Every user holds the Reader role by rule (the default); off: only users given Reader (directly or
    # through a group) read their own and granted mailboxes (issue 14; control.mailboxes.readable_mailbox_ids).
    readers_by_default: Mapped[bool] = mapped_column(nullable=False, default=True, server_default=true())

    keys: Mapped[list[OrgKey]] = relationship(back_populates="org", cascade="all, delete-orphan")


class OrgKey(Base):
    """A wrapped key; the plaintext key never touches the database."""

    __tablename__ = "org_keys"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    key_id: Mapped[str] = mapped_column(String(16), nullable=False)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    master_key_id: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    org: Mapped[Organization] = relationship(back_populates="keys")


class Mailbox(Base):
    __tablename__ = "mailboxes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # user | shared | journal
    primary_address: Mapped[str] = mapped_column(String(320), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # The user the mailbox was made for. No foreign key on purpose: the mailbox outlives its user
    # (the column is cleared when the user is deleted), and SQLite cannot add one in place.
    owner_user_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    directory_profile_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # synced: read-only
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Retired (control.retirement, migration 0019): no new mail is archived into it; it stays readable.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    retired_by: Mapped[str | None] = mapped_column(String(320), nullable=True)

    addresses: Mapped[list[MailboxAddress]] = relationship(back_populates="mailbox", cascade="all, delete-orphan")


class MailboxAddress(Base):
    """Primary and secondary (alias) addresses, unique within an organization."""

    __tablename__ = "mailbox_addresses"
    __table_args__ = (UniqueConstraint("org_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    mailbox_id: Mapped[str] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320), nullable=False)
    is_primary: Mapped[bool] = mapped_column(nullable=False, default=False)
    origin: Mapped[str | None] = mapped_column(String(16), nullable=True)  # directory | retained | None

    mailbox: Mapped[Mailbox] = relationship(back_populates="addresses")


class Licence(Base):
    """One per organization; `version` is bumped to lock the row before a licence-limited write."""

    __tablename__ = "licences"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    licensed_users: Mapped[int] = mapped_column(Integer, nullable=False)
    mailboxes_per_user: Mapped[int] = mapped_column(Integer, nullable=False)
    storage_gb: Mapped[int] = mapped_column(Integer, nullable=False)
    auto_expand: Mapped[bool] = mapped_column(nullable=False, default=False)
    trial_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # issue 14 (migration 0012): a cancelled subscription ends at `subscription_ends_at` (the end of the month
    # it was cancelled in); the grace period runs until `deletion_due_at`, then the organization is locked.
    subscription_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    deletion_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Domain(Base):
    """A mail domain; unique on the whole deployment (one organization per domain)."""

    __tablename__ = "domains"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(253), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # local | global
    is_default: Mapped[bool] = mapped_column(nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    directory_profile_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # synced: read-only


class User(Base):
    """A person of an organization; logs in as `username@domain` (`login`, unique everywhere)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("domain_id", "username"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    domain_id: Mapped[str] = mapped_column(ForeignKey("domains.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    login: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    must_change_password: Mapped[bool] = mapped_column(nullable=False, default=False)
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # encrypted
    totp_enabled: Mapped[bool] = mapped_column(nullable=False, default=False)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    active: Mapped[bool] = mapped_column(nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    directory_profile_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # synced: read-only
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    directory_dn: Mapped[str | None] = mapped_column(Text, nullable=True)


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    directory_profile_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # synced: read-only
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class RoleAssignment(Base):
    """A role held by a group (the usual way) or directly by one user."""

    __tablename__ = "role_assignments"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), nullable=True, index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True)


class MailboxPermission(Base):
    """Read access to one archive mailbox for one user or one group."""

    __tablename__ = "mailbox_permissions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    mailbox_id: Mapped[str] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True)
    group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), nullable=True, index=True)
    access: Mapped[str] = mapped_column(String(16), nullable=False, default="read")


class Operator(Base):
    """An MSP operator: a deployment-wide principal, optionally limited to listed organizations."""

    __tablename__ = "operators"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    must_change_password: Mapped[bool] = mapped_column(nullable=False, default=False)
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_enabled: Mapped[bool] = mapped_column(nullable=False, default=False)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    all_orgs: Mapped[bool] = mapped_column(nullable=False, default=True)
    active: Mapped[bool] = mapped_column(nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class OperatorOrg(Base):
    __tablename__ = "operator_orgs"

    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)


class ApiToken(Base):
    """An API token: only its SHA-256 is stored (the token is random, so no slow hash is needed)."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    subject_kind: Mapped[str] = mapped_column(String(16), nullable=False)  # user | operator
    subject_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    org_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # "admin": acts as its account; "read": may only read (GET), for reporting and backups of exports.
    scope: Mapped[str] = mapped_column(String(8), nullable=False, default="admin", server_default="admin")


class WebSession(Base):
    """A web login; the cookie holds a random id of which only the SHA-256 is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    subject_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    subject_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    org_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    mfa_pending: Mapped[bool] = mapped_column(nullable=False, default=False)


class LoginFailure(Base):
    """One failed login, kept for throttling (the audit log keeps them for good)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(320), nullable=False, index=True)
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the client's address
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AuditEvent(Base):
    """Append-only, hash-chained (one chain per deployment; see control/audit.py).

    `at` is text (ISO 8601, UTC) so the hashed value round-trips exactly on every database;
    `org_id` has no foreign key: the log outlives what it talks about.
    """

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40), nullable=False)
    org_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    actor_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[str] = mapped_column(String(32), nullable=False)
    actor_login: Mapped[str] = mapped_column(String(320), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target: Mapped[str] = mapped_column(String(400), nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    details: Mapped[str] = mapped_column(Text, nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditHead(Base):
    """The newest sequence number and hash: updating it serializes appends, and it reveals a cut tail."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class SourceProfile(Base):
    """A mail source of an organization (IMAP account or server, Microsoft 365 tenant, journal or
    SMTP-import endpoint). `config` is JSON without secrets; `secret` is the JSON of its
    credentials, encrypted (control.sources). A Prefect deployment per kind runs the due profiles."""

    __tablename__ = "source_profiles"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # imap | graph | journal | smtp-import
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    # The organization's mail domain the source serves, if any: removing the domain removes the source.
    domain: Mapped[str | None] = mapped_column(String(253), nullable=True)
    config: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Journal and SMTP-import profiles: the address the endpoint routes by, normalized. Unique over the
    # deployment (index uq_source_profiles_endpoint_address) and fixed at creation.
    endpoint_address: Mapped[str | None] = mapped_column(String(320), nullable=True)
    interval_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=900)
    enabled: Mapped[bool] = mapped_column(nullable=False, default=True)
    # Set while archiving is paused for a reason that resolves by itself (storage full).
    paused_reason: Mapped[str | None] = mapped_column(String(400), nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # ok | failed | paused | partial
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_counts: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON of catalog.ingest.Counts
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class SourceCursor(Base):
    """Where a source left off, per key (an IMAP folder's UIDVALIDITY/UID/MODSEQ, a Graph delta link)."""

    __tablename__ = "source_cursors"

    profile_id: Mapped[str] = mapped_column(ForeignKey("source_profiles.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)  # JSON
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class DirectoryProfile(Base):
    """A directory an organization's users, groups and roles are synced from (LDAP/Active Directory
    server or Microsoft 365 tenant). `config` is JSON without secrets; `secret` (bind password or
    client secret) is encrypted (control.directory_profiles). Users, groups, domains and mailboxes
    it owns carry its id in `directory_profile_id` and are read-only in the archive."""

    __tablename__ = "directory_profiles"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # ldap | m365
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    config: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    interval_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=3600)
    enabled: Mapped[bool] = mapped_column(nullable=False, default=True)
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # ok | partial | failed
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_report: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON summary of the last sync
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class DepartedAccess(Base):
    """What the archive gave a synced user that the directory removed: roles held directly, memberships
    of archive-made groups, read access to other mailboxes (JSON lists). Given back, and the row
    dropped, when the same directory object (its stable `external_id`) is added again."""

    __tablename__ = "directory_departed_access"
    __table_args__ = (UniqueConstraint("directory_profile_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    directory_profile_id: Mapped[str] = mapped_column(ForeignKey("directory_profiles.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200), nullable=False)
    roles: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    group_ids: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    mailbox_ids: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    removed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


# ---- metering, billing and usage reporting (issue 5; control/metering.py, control/billing.py,
# control/usage_report.py) ----------------------------------------------------------------------


class MeteringState(Base):
    """Per organization: the running totals of the last metering run, the DuckLake snapshot they are
    exact at (the watermark), and whether archiving is paused. Read cheaply by whoever must know
    (`control.metering.archiving_paused`); written only by metering."""

    __tablename__ = "metering_state"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    snapshot_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: never metered
    object_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # every kind, exports too
    export_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # of which export files
    lake_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # its Parquet files
    storage_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # object + lake
    messages: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    copies: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    raw_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    users: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    mailboxes: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    storage_quota_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    measured_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    full_count_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    paused: Mapped[bool] = mapped_column(nullable=False, default=False)
    paused_reason: Mapped[str | None] = mapped_column(String(400), nullable=True)
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    trial_settled: Mapped[bool] = mapped_column(nullable=False, default=False)
    # A metering run holds the organization until then (no two runs measure one organization at once).
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    lease_holder: Mapped[str | None] = mapped_column(String(64), nullable=True)


class BillingRecord(Base):
    """One per organization and calendar month ("YYYY-MM"): what the month is billed on, no proration."""

    __tablename__ = "billing_records"
    __table_args__ = (UniqueConstraint("org_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    month: Mapped[str] = mapped_column(String(7), nullable=False)
    licensed_users: Mapped[int] = mapped_column(Integer, nullable=False)  # the most held during the month
    storage_gb: Mapped[int] = mapped_column(Integer, nullable=False)  # the highest quota held during the month
    trial: Mapped[bool] = mapped_column(nullable=False, default=False)  # in its trial for some of the month
    billable: Mapped[bool] = mapped_column(nullable=False, default=False)  # paid for some of the month
    status_at_end: Mapped[str] = mapped_column(String(16), nullable=False)  # trial | paid | expired
    closed: Mapped[bool] = mapped_column(nullable=False, default=False)  # the month is over: final
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class UsageReport(Base):
    """The outbox of daily usage reports to the business portal: one per organization and day.

    The payload is frozen when the row is made, so every retry sends the same body under the same
    idempotency key; the row is kept after sending (sent_at) as the record of what was reported."""

    __tablename__ = "usage_reports"
    __table_args__ = (UniqueConstraint("org_id", "day"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    day: Mapped[str] = mapped_column(String(10), nullable=False)  # YYYY-MM-DD (UTC)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)  # JSON, idempotency key included
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
class ExportJob(Base):
    """An export of selected mail (control.exports has the rules; operations/exports.py does the work).

    status: queued | running | paused_quota | done | done_damaged | failed | expired | deleted. The
    file lives encrypted at `object_name` from done until expired/deleted, and counts against the
    quota. done_damaged: done, but `damaged` copies did not read back intact and are not in it.
    `archived_until` is the job's cut-off (it exports copies archived at or before it), so a resumed
    job exports what it would have the first time; incremental exports start after the cut-off of
    the last completed export of the same selection (`scope`).
    """

    __tablename__ = "export_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # full | incremental | selection
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    selection: Mapped[str] = mapped_column(Text, nullable=False)  # JSON, see control.exports.ExportRequest
    scope: Mapped[str] = mapped_column(String(64), nullable=False)  # hash of what is selected, dates aside
    archived_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    archived_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    requested_by: Mapped[str] = mapped_column(String(320), nullable=False)  # login, for people
    requested_by_id: Mapped[str] = mapped_column(String(32), nullable=False)
    requested_by_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    items_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    items_done: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    messages: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    quarantined: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    damaged: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")  # copies left out
    mail_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # .eml bytes in the zip
    zip_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # the zip, decrypted
    stored_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # what it occupies
    object_name: Mapped[str] = mapped_column(String(400), nullable=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SetPasswordToken(Base):
    """A one-time link that sets a user's password (first-login invitations, control.invitations;
    migration 0019). Only the token's SHA-256 is stored; valid until `expires_at`, once."""

    __tablename__ = "set_password_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    sent_to: Mapped[str] = mapped_column(String(320), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# ---- audit log: indexes of filtered pages (migration 0009; see control.audit.list_events) ----------
from sqlalchemy import Index  # noqa: E402 - kept with the block it serves (models.py is shared)

Index("ix_audit_events_org_seq", AuditEvent.org_id, AuditEvent.seq)
Index("ix_audit_events_org_action", AuditEvent.org_id, AuditEvent.action, AuditEvent.seq)
Index("ix_audit_events_org_actor", AuditEvent.org_id, AuditEvent.actor_login, AuditEvent.seq)
Index("ix_audit_events_org_outcome", AuditEvent.org_id, AuditEvent.outcome, AuditEvent.seq)
Index("ix_audit_events_action", AuditEvent.action, AuditEvent.seq)
Index("ix_audit_events_actor", AuditEvent.actor_login, AuditEvent.seq)


# ---- audit log: verified checkpoints of the hash chain (migration 0010; see control.audit.verify_chain) -----


class AuditCheckpoint(Base):
    """A seq whose event (and every one before it) a verification found intact, with the hash it had.

    `full`: that verification walked the chain from the genesis (the nightly one); otherwise it started
    from an older checkpoint. Incremental verifications start from the newest row.
    """

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    full: Mapped[bool] = mapped_column(nullable=False)


# ---- issue 14: the customer's lifecycle - support access grants (migration 0012; see control.support) ------


class SupportGrant(Base):
    """An organization's time-limited permission for one MSP operator to read named archive mailboxes.

    Operators hold no content right of their own; a grant is the only way one reads mail over HTTP.
    `mailbox_ids` is a JSON list. A grant is active while `revoked_at` is empty and `expires_at` is ahead.
    """

    __tablename__ = "support_grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    mailbox_ids: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    granted_by: Mapped[str] = mapped_column(String(320), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(320), nullable=True)


# ---- issue 15: retention policies and legal holds (migration 0014; see control.retention) ----------


class RetentionPolicy(Base):
    """How long an organization keeps what the policy covers, and what happens at the end.

    Scope: every copy of the organization, narrowed (all of them at once) by `mailbox_ids` (JSON list;
    empty = every mailbox), `folder` (that folder and the folders under it) and `query` (the search
    syntax, evaluated against the index when the policy is applied). The period counts from the
    message's date (`base` "message-date") or from when the copy was archived ("archived").
    """

    __tablename__ = "retention_policies"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_retention_policies_org_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    mailbox_ids: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON list of mailbox ids
    folder: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    query: Mapped[str | None] = mapped_column(Text, nullable=True)
    keep: Mapped[str] = mapped_column(String(16), nullable=False)  # Nd | Nm | Ny
    base: Mapped[str] = mapped_column(String(16), nullable=False)  # message-date | archived
    action: Mapped[str] = mapped_column(String(16), nullable=False)  # delete | review
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_by: Mapped[str] = mapped_column(String(320), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_by: Mapped[str] = mapped_column(String(320), nullable=False)


class LegalHold(Base):
    """A case's hold on mailboxes (`mailbox_ids`, JSON) or on a search query: while it is active
    (`released_at` NULL), no path deletes a copy it covers. Released holds stay, for the record."""

    __tablename__ = "legal_holds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    case_name: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    mailbox_ids: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    query: Mapped[str | None] = mapped_column(Text, nullable=True)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    placed_by: Mapped[str] = mapped_column(String(320), nullable=False)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    release_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class RetentionRun(Base):
    """One application of an organization's policies as of `as_of` (fixed at its start, so a resumed
    run deletes what the first attempt would have, never more). `finished_at` NULL: unfinished."""

    __tablename__ = "retention_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    deleted: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    bytes_freed: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    held: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    review: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class RetentionBatch(Base):
    """The copies one step of a run is about to delete, written before the catalogue changes: after a
    crash the next attempt finds it `pending` and tells the copies already gone (deleted, to be
    audited) from those still there (evaluated again, as if never planned)."""

    __tablename__ = "retention_batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("retention_runs.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    policy_id: Mapped[str] = mapped_column(String(32), nullable=False)
    policy_name: Mapped[str] = mapped_column(String(100), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    item_ids: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # pending | done
    deleted: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RetentionReview(Base):
    """A copy whose period under a `review` policy has ended: listed for Compliance to approve
    (deleted through the compliance path) or to keep (`decision` keep)."""

    __tablename__ = "retention_reviews"
    __table_args__ = (UniqueConstraint("org_id", "item_id", name="uq_retention_reviews_org_item"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(String(64), nullable=False)
    policy_id: Mapped[str] = mapped_column(String(32), nullable=False)
    policy_name: Mapped[str] = mapped_column(String(100), nullable=False)
    expired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    listed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)  # None (open) | deleted | kept
    decided_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SignInProvider(Base):
    """How an organization's users sign in besides their password (issue 18, migration 0016): Microsoft
    (`entra`: the tenant's users, matched by their Entra object id) or a generic OpenID Connect
    provider (`oidc`: matched by email or login). `config` is JSON without secrets; `secret` (the
    client secret) is encrypted under the master key (control.sign_in)."""

    __tablename__ = "sign_in_providers"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # entra | oidc
    display_name: Mapped[str] = mapped_column(String(100), nullable=False)
    config: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    enabled: Mapped[bool] = mapped_column(nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
