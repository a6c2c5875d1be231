"""Organizations, their wrapped keys, archive mailboxes and their addresses.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("storage_quota_bytes", sa.BigInteger, nullable=False),
        sa.Column("active_data_key_id", sa.String(16), nullable=False),
    )
    op.create_table(
        "org_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(32), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("master_key_id", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_org_keys_org_id", "org_keys", ["org_id"])
    op.create_table(
        "mailboxes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("org_id", sa.String(32), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("primary_address", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_mailboxes_org_id", "mailboxes", ["org_id"])
    op.create_table(
        "mailbox_addresses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(32), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("mailbox_id", sa.String(32), sa.ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("is_primary", sa.Boolean, nullable=False),
        sa.UniqueConstraint("org_id", "address"),
    )
    op.create_index("ix_mailbox_addresses_org_id", "mailbox_addresses", ["org_id"])
    op.create_index("ix_mailbox_addresses_mailbox_id", "mailbox_addresses", ["mailbox_id"])


def downgrade() -> None:
    op.drop_table("mailbox_addresses")
    op.drop_table("mailboxes")
    op.drop_table("org_keys")
    op.drop_table("organizations")
