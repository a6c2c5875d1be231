"""Retired archive mailboxes; one-time set-password tokens of first-login invitations (issue 14, sections 5-6).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    # Plain ALTERs (no batch table rebuild: on SQLite that would cascade-delete mailbox_addresses).
    op.add_column("mailboxes", sa.Column("retired_at", tz, nullable=True))
    op.add_column("mailboxes", sa.Column("retired_by", sa.String(320), nullable=True))


def downgrade() -> None:
    op.drop_column("mailboxes", "retired_by")
    op.drop_column("mailboxes", "retired_at")
