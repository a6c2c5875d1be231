"""Retention policies, legal holds, retention runs and their batches, the review queue (issue 15).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _org() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("org_id", sa.String(32), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False,
                     index=True)


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "retention_policies",
        sa.Column("id", sa.String(32), primary_key=True), _org(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("mailbox_ids", sa.Text, nullable=False),
        sa.Column("folder", sa.String(1000), nullable=True),
        sa.Column("query", sa.Text, nullable=True),
        sa.Column("keep", sa.String(16), nullable=False),
        sa.Column("base", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("updated_at", tz, nullable=False),
        sa.Column("updated_by", sa.String(320), nullable=False),
        sa.UniqueConstraint("org_id", "name", name="uq_retention_policies_org_name"),
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(32), primary_key=True), _org(),
        sa.Column("case_name", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("mailbox_ids", sa.Text, nullable=False),
        sa.Column("query", sa.Text, nullable=True),
        sa.Column("placed_at", tz, nullable=False),
        sa.Column("placed_by", sa.String(320), nullable=False),
        sa.Column("released_at", tz, nullable=True),
        sa.Column("released_by", sa.String(320), nullable=True),
        sa.Column("release_reason", sa.Text, nullable=True),
    )
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.String(32), primary_key=True), _org(),
        sa.Column("as_of", tz, nullable=False),
        sa.Column("started_at", tz, nullable=False),
        sa.Column("finished_at", tz, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("deleted", sa.BigInteger, nullable=False),
        sa.Column("bytes_freed", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
        sa.Column("review", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "retention_batches",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("retention_runs.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("org_id", sa.String(32), nullable=False, index=True),
        sa.Column("policy_id", sa.String(32), nullable=False),
        sa.Column("policy_name", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("item_ids", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("deleted", sa.BigInteger, nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("done_at", tz, nullable=True),
    )
    op.create_table(
        "retention_reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), _org(),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("policy_id", sa.String(32), nullable=False),
        sa.Column("policy_name", sa.String(100), nullable=False),
        sa.Column("expired_at", tz, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("listed_at", tz, nullable=False),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("decided_by", sa.String(320), nullable=True),
        sa.Column("decided_at", tz, nullable=True),
        sa.UniqueConstraint("org_id", "item_id", name="uq_retention_reviews_org_item"),
    )


def downgrade() -> None:
    for table in ("retention_reviews", "retention_batches", "retention_runs", "legal_holds", "retention_policies"):
        op.drop_table(table)
