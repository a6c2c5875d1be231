"""Organizations choose whether every user is a Reader by rule (`readers_by_default`, true: what every
existing organization had) or only users given the Reader role read mail (issue 14).

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("organizations", sa.Column("readers_by_default", sa.Boolean(), nullable=False,
                                             server_default=sa.true()))


def downgrade() -> None:
    op.drop_column("organizations", "readers_by_default")
