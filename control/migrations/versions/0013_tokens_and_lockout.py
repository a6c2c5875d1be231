"""API tokens get a scope: `admin` (acts as its account) or `read` (reads only); existing tokens
keep acting as their account (`admin`). Failed logins record their source address, so a lockout
stops the guesser's address, not the account's owner.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("scope", sa.String(8), nullable=False, server_default="admin"))
    op.add_column("login_failures", sa.Column("source", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("login_failures", "source")
    op.drop_column("api_tokens", "scope")
