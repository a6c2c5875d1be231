"""Directory synchronization: profiles, and which users, groups, domains and mailboxes a profile owns.

Revision ID: 0008
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Tables that get `directory_profile_id`: plain ALTER TABLE ADD COLUMN (a table rebuild would cascade in SQLite).
OWNED = ("users", "groups", "domains", "mailboxes")


def upgrade() -> None:
    op.create_table(
        "directory_profiles",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("org_id", sa.String(32), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=True),
        sa.Column("interval_seconds", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(16), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_report", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "name"),
    )
    op.create_index("ix_directory_profiles_org_id", "directory_profiles", ["org_id"])
    for table in OWNED:
        # No foreign key: SQLite cannot add one in place; control.directory_profiles clears these on removal.
        op.add_column(table, sa.Column("directory_profile_id", sa.String(32), nullable=True))
        op.create_index(f"ix_{table}_directory_profile_id", table, ["directory_profile_id"])
    for table in ("users", "groups", "mailboxes"):
        op.add_column(table, sa.Column("external_id", sa.String(200), nullable=True))
    op.add_column("users", sa.Column("directory_dn", sa.Text, nullable=True))
    # directory | retained (a former primary address or alias kept so archived mail stays findable) | NULL (by hand)
    op.add_column("mailbox_addresses", sa.Column("origin", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("mailbox_addresses", "origin")
    op.drop_column("users", "directory_dn")
    for table in ("users", "groups", "mailboxes"):
        op.drop_column(table, "external_id")
    for table in OWNED:
        op.drop_index(f"ix_{table}_directory_profile_id", table)
        op.drop_column(table, "directory_profile_id")
    op.drop_table("directory_profiles")
