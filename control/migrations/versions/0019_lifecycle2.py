"""Retired archive mailboxes; one-time set-password tokens of first-login invitations (issue 14, sections 5-6).

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    # Plain ALTERs (no batch table rebuild: on SQLite that would cascade-delete mailbox_addresses).
    op.add_column("mailboxes", sa.Column("retired_at", tz, nullable=True))
    op.add_column("mailboxes", sa.Column("retired_by", sa.String(320), nullable=True))
    op.create_table(
        "set_password_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("org_id", sa.String(32), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("sent_to", sa.String(320), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("expires_at", tz, nullable=False),
        sa.Column("used_at", tz, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("set_password_tokens")
    op.drop_column("mailboxes", "retired_by")
    op.drop_column("mailboxes", "retired_at")
