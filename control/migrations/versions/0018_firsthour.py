"""Directory sync keeps what the archive gave a removed user (roles, archive-made groups, read access
to other mailboxes) and gives it back when the same directory object is added again (issue 18).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "directory_departed_access",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(32), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("directory_profile_id", sa.String(32), sa.ForeignKey("directory_profiles.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("group_ids", sa.Text(), nullable=False),
        sa.Column("mailbox_ids", sa.Text(), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("directory_profile_id", "external_id"),
    )
    op.create_index("ix_directory_departed_access_org_id", "directory_departed_access", ["org_id"])


def downgrade() -> None:
    op.drop_index("ix_directory_departed_access_org_id", "directory_departed_access")
    op.drop_table("directory_departed_access")
