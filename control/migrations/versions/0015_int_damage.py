"""Export jobs count the copies they left out because they did not read back intact (`damaged`);
such a job ends `done_damaged` (a status string, no schema change).

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
    op.add_column("export_jobs", sa.Column("damaged", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("export_jobs") as batch:
        batch.drop_column("damaged")
