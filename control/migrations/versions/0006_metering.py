"""Metering state, billing records and the usage-report outbox (issue 5).

Revision ID: 0006
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def _org_fk() -> sa.ForeignKey:
    return sa.ForeignKey("organizations.id", ondelete="CASCADE")


def upgrade() -> None:
    big = sa.BigInteger
    op.create_table(
        "metering_state",
        sa.Column("org_id", sa.String(32), _org_fk(), primary_key=True),
        sa.Column("snapshot_id", big, nullable=True),
        *[sa.Column(c, big, nullable=False, server_default="0") for c in (
            "object_bytes", "export_bytes", "lake_bytes", "storage_bytes", "messages", "copies", "raw_bytes")],
        sa.Column("users", sa.Integer, nullable=False, server_default="0"),
        sa.Column("mailboxes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("storage_quota_bytes", big, nullable=False, server_default="0"),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("full_count_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("paused_reason", sa.String(400), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trial_settled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_holder", sa.String(64), nullable=True),
    )
    op.create_table(
        "billing_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(32), _org_fk(), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("licensed_users", sa.Integer, nullable=False),
        sa.Column("storage_gb", sa.Integer, nullable=False),
        sa.Column("trial", sa.Boolean, nullable=False),
        sa.Column("billable", sa.Boolean, nullable=False),
        sa.Column("status_at_end", sa.String(16), nullable=False),
        sa.Column("closed", sa.Boolean, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "month"),
    )
    op.create_index("ix_billing_records_org_id", "billing_records", ["org_id"])
    op.create_table(
        "usage_reports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("org_id", sa.String(32), _org_fk(), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False, unique=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("org_id", "day"),
    )
    op.create_index("ix_usage_reports_org_id", "usage_reports", ["org_id"])
    op.create_index("ix_usage_reports_next_attempt_at", "usage_reports", ["next_attempt_at"])
    op.create_index("ix_usage_reports_sent_at", "usage_reports", ["sent_at"])


def downgrade() -> None:
    op.drop_table("usage_reports")
    op.drop_table("billing_records")
    op.drop_table("metering_state")
