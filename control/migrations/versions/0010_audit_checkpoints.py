"""Verified checkpoints of the audit chain, so pages check only the events since the last one
(control.audit.verify_chain with full=False); the nightly full verification still walks it all.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("full", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
