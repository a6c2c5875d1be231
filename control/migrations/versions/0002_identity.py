"""Identity, licensing, access control, authentication and the audit log.

Existing organizations get their default domain and a paid licence that covers what they hold
already (so nothing they do today starts being refused); they have no admin user yet: an
operator adds one (`mailark user add admin@ORG --role Admin --org ORG`).

Revision ID: 0002
Revises: 0001
"""

import math
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from ulid import ULID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

GB = 1_000_000_000
TIERS_GB = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000)
GENESIS = "0" * 64


def _org_fk() -> sa.ForeignKey:
    return sa.ForeignKey("organizations.id", ondelete="CASCADE")


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN (no table rebuild): a rebuild would drop `mailboxes`, and with
    # foreign keys on, SQLite would cascade that drop into mailbox_addresses.
    op.add_column("organizations", sa.Column("mfa_required", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("mailboxes", sa.Column("owner_user_id", sa.String(32), nullable=True))
    op.add_column("mailboxes", sa.Column("display_name", sa.String(200), nullable=True))
    op.create_index("ix_mailboxes_owner_user_id", "mailboxes", ["owner_user_id"])

    op.create_table(
        "licences",
        sa.Column("org_id", sa.String(32), _org_fk(), primary_key=True),
        sa.Column("licensed_users", sa.Integer, nullable=False),
        sa.Column("mailboxes_per_user", sa.Integer, nullable=False),
        sa.Column("storage_gb", sa.Integer, nullable=False),
        sa.Column("auto_expand", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("trial_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "domains",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("org_id", sa.String(32), _org_fk(), nullable=False),
        sa.Column("name", sa.String(253), nullable=False, unique=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_domains_org_id", "domains", ["org_id"])
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("org_id", sa.String(32), _org_fk(), nullable=False),
        sa.Column("domain_id", sa.String(32), sa.ForeignKey("domains.id"), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("login", sa.String(320), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("totp_secret", sa.LargeBinary, nullable=True),
        sa.Column("totp_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("totp_last_step", sa.BigInteger, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("domain_id", "username"),
    )
    op.create_index("ix_users_org_id", "users", ["org_id"])
    op.create_index("ix_users_domain_id", "users", ["domain_id"])
    op.create_table(
        "groups",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("org_id", sa.String(32), _org_fk(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "name"),
    )
    op.create_index("ix_groups_org_id", "groups", ["org_id"])
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.String(32), sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_group_members_user_id", "group_members", ["user_id"])
    op.create_table(
        "role_assignments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(32), _org_fk(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("group_id", sa.String(32), sa.ForeignKey("groups.id", ondelete="CASCADE"), nullable=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    )
    for col in ("org_id", "group_id", "user_id"):
        op.create_index(f"ix_role_assignments_{col}", "role_assignments", [col])
    op.create_table(
        "mailbox_permissions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(32), _org_fk(), nullable=False),
        sa.Column("mailbox_id", sa.String(32), sa.ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
        sa.Column("group_id", sa.String(32), sa.ForeignKey("groups.id", ondelete="CASCADE"), nullable=True),
        sa.Column("access", sa.String(16), nullable=False, server_default="read"),
    )
    for col in ("org_id", "mailbox_id", "user_id", "group_id"):
        op.create_index(f"ix_mailbox_permissions_{col}", "mailbox_permissions", [col])
    op.create_table(
        "operators",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("totp_secret", sa.LargeBinary, nullable=True),
        sa.Column("totp_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("totp_last_step", sa.BigInteger, nullable=True),
        sa.Column("all_orgs", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "operator_orgs",
        sa.Column("operator_id", sa.String(32), sa.ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("org_id", sa.String(32), _org_fk(), primary_key=True),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_tokens_subject_id", "api_tokens", ["subject_id"])
    op.create_index("ix_api_tokens_org_id", "api_tokens", ["org_id"])
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("session_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mfa_pending", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_web_sessions_subject_id", "web_sessions", ["subject_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("login", sa.String(320), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_failures_login", "login_failures", ["login"])
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("org_id", sa.String(32), nullable=True),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(32), nullable=False),
        sa.Column("actor_login", sa.String(320), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(400), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_events_org_id", "audit_events", ["org_id"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )

    # Data: the audit chain's head, and a default domain and licence for each existing organization.
    bind = op.get_bind()
    bind.execute(sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"), {"h": GENESIS})
    now = datetime.now(UTC)
    orgs = bind.execute(sa.text("SELECT id, name, storage_quota_bytes FROM organizations")).all()
    for org_id, name, quota in orgs:
        mailboxes = bind.execute(sa.text("SELECT count(*) FROM mailboxes WHERE org_id = :o"), {"o": org_id}).scalar()
        gb = next((t for t in TIERS_GB if t * GB >= quota), TIERS_GB[-1])
        bind.execute(
            sa.text(
                "INSERT INTO domains (id, org_id, name, kind, is_default, created_at) "
                "VALUES (:id, :o, :n, 'local', :t, :now)"
            ),
            {"id": str(ULID()).lower(), "o": org_id, "n": name, "t": True, "now": now},
        )
        bind.execute(
            sa.text(
                "INSERT INTO licences (org_id, licensed_users, mailboxes_per_user, storage_gb, auto_expand, "
                "version, updated_at) VALUES (:o, 5, :mpu, :gb, :f, 0, :now)"
            ),
            {"o": org_id, "mpu": max(2, math.ceil(mailboxes / 5)), "gb": gb, "f": False, "now": now},
        )
        bind.execute(
            sa.text("UPDATE organizations SET storage_quota_bytes = :q WHERE id = :o"), {"q": gb * GB, "o": org_id}
        )


def downgrade() -> None:
    for table in (
        "audit_head", "audit_events", "login_failures", "web_sessions", "api_tokens", "operator_orgs",
        "operators", "mailbox_permissions", "role_assignments", "group_members", "groups", "users",
        "domains", "licences",
    ):
        op.drop_table(table)
    op.drop_index("ix_mailboxes_owner_user_id", "mailboxes")
    # Native DROP COLUMN (SQLite >= 3.35), never a table rebuild: with foreign keys on, dropping the
    # rebuilt organizations or mailboxes table would cascade into every row that refers to it.
    for table, column in (("mailboxes", "display_name"), ("mailboxes", "owner_user_id"), ("organizations", "mfa_required")):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
