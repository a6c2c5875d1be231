"""Indexes for filtered, newest-first pages of the audit log (control.audit.list_events).

Each filter an Auditor or operator uses, followed by seq, so a page is a short ordered index range
instead of a walk through the whole log: the organization alone, its actions, its actors, its
outcomes (the rare "denied" and "failed"), and actions and actors deployment-wide. No index on
`at` or for action prefixes: SQLite did not use one for a time range, and an index range sorted
afterwards was slower than walking the events newest first (figures in BENCHMARKS.md).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_audit_events_org_seq": ["org_id", "seq"],
    "ix_audit_events_org_action": ["org_id", "action", "seq"],
    "ix_audit_events_org_actor": ["org_id", "actor_login", "seq"],
    "ix_audit_events_org_outcome": ["org_id", "outcome", "seq"],
    "ix_audit_events_action": ["action", "seq"],
    "ix_audit_events_actor": ["actor_login", "seq"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "audit_events", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="audit_events")
