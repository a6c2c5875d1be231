"""Support access grants: an organization lets a named MSP operator read named mailboxes for a while
(issue 14; control.support). Operators hold no content right otherwise. And a licence's cancellation:
the subscription's end and the end of the grace period (control.licensing.cancel_subscription).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "support_grants",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("org_id", sa.String(32), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("operator_id", sa.String(32), sa.ForeignKey("operators.id", ondelete="CASCADE"), nullable=False),
        sa.Column("mailbox_ids", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("granted_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(320), nullable=True),
    )
    op.create_index("ix_support_grants_org_id", "support_grants", ["org_id"])
    op.create_index("ix_support_grants_operator_id", "support_grants", ["operator_id"])
    with op.batch_alter_table("licences") as b:
        b.add_column(sa.Column("subscription_ends_at", sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column("deletion_due_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("licences") as b:
        b.drop_column("deletion_due_at")
        b.drop_column("subscription_ends_at")
    op.drop_index("ix_support_grants_operator_id", "support_grants")
    op.drop_index("ix_support_grants_org_id", "support_grants")
    op.drop_table("support_grants")
