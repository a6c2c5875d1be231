"""A journal or SMTP-import address belongs to exactly one profile: `source_profiles.endpoint_address`
(normalized, unique). Refuses to run over addresses that two profiles claim today, and names them.

Journal addresses now take mail only from authenticated senders or named sender networks; those
made before, without AUTH, keep working as before: they are marked `allow_any_sender` (shown with a
warning by `mailark journal list`), for their admins to narrow.

Revision ID: 0011
Revises: 0010
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT p.id, p.name, p.config, o.name, p.kind FROM source_profiles p JOIN organizations o ON o.id = p.org_id "
        "WHERE p.kind IN ('journal', 'smtp-import')")).all()
    owners: dict[str, list[str]] = {}
    for pid, name, config, org, kind in rows:
        cfg = json.loads(config or "{}")
        if kind == "journal" and not cfg.get("auth_required") and not cfg.get("allow_networks") \
                and "allow_any_sender" not in cfg:
            cfg["allow_any_sender"] = True
            bind.execute(sa.text("UPDATE source_profiles SET config = :c WHERE id = :i"),
                         {"c": json.dumps(cfg, sort_keys=True), "i": pid})
        address = (cfg.get("address") or "").strip().lower()
        if address:
            owners.setdefault(address, []).append(f"{org}/{name} ({pid})")
    twice = {a: who for a, who in owners.items() if len(who) > 1}
    if twice:
        listed = "; ".join(f"{a}: {', '.join(who)}" for a, who in sorted(twice.items()))
        raise RuntimeError("these journal or SMTP-import addresses belong to more than one source profile, so mail "
                           f"to them could land in the wrong organization: {listed}. Remove all but the rightful "
                           "profile of each (mailark source remove NAME --org ORG), then run the upgrade again.")
    op.add_column("source_profiles", sa.Column("endpoint_address", sa.String(320), nullable=True))
    for address, (who,) in owners.items():
        pid = who.rsplit("(", 1)[1].rstrip(")")
        bind.execute(sa.text("UPDATE source_profiles SET endpoint_address = :a WHERE id = :i"), {"a": address, "i": pid})
    op.create_index("uq_source_profiles_endpoint_address", "source_profiles", ["endpoint_address"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_source_profiles_endpoint_address", "source_profiles")
    op.drop_column("source_profiles", "endpoint_address")  # native on SQLite >= 3.35: no table rebuild
