"""API tokens get a scope: `admin` (acts as its account) or `read` (reads only). Existing tokens
keep acting as their account (`admin`).

Revision ID: 0014
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("scope", sa.String(8), nullable=False, server_default="admin"))


def downgrade() -> None:
    op.drop_column("api_tokens", "scope")
