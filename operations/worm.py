"""Immutable storage (WORM): lengthening the object locks of what legal holds keep.

Locks are set at ingest from the retention that applies then (control.retention.lock_plan). A
hold has no end date, so the objects of a held copy are locked ``worm_hold_keep`` ahead and the
lock is renewed by every retention run once less than half of that remains; releasing a hold
shortens nothing (the store would refuse): the copy simply becomes deletable once the last lock
passes. Skeleton/delta packs are not extended (docs/retention.md says why).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from mailark.catalog.archive import OrgArchive
from mailark.catalog.lake import ALIAS
from mailark.control.retention import add_period, parse_period
from mailark.runtime import Runtime


def held_object_keys(archive: OrgArchive, item_ids: Iterable[str]) -> list[str]:
    """The bodies, attachments and quarantined bytes the given copies use."""
    ids = sorted(set(item_ids))
    if not ids:
        return []
    con, org = archive.lake, archive.org_id
    con.execute("CREATE OR REPLACE TEMP TABLE _worm_ids (v VARCHAR)")
    try:
        con.executemany("INSERT INTO _worm_ids VALUES (?)", [(i,) for i in ids])
        rows = con.execute(
            f"SELECT DISTINCT p.object_key FROM {ALIAS}.mailbox_items i JOIN {ALIAS}.parts p "
            f"ON p.org_id = i.org_id AND p.message_key = i.message_key "
            f"WHERE i.org_id = ? AND i.item_id IN (SELECT v FROM _worm_ids) "
            f"UNION SELECT object_key FROM {ALIAS}.quarantine WHERE org_id = ? AND object_key IS NOT NULL "
            f"AND item_id IN (SELECT v FROM _worm_ids)", [org, org]).fetchall()
    finally:
        con.execute("DROP TABLE IF EXISTS _worm_ids")
    return sorted(r[0] for r in rows)


def extend_for_holds(rt: Runtime, archive: OrgArchive, item_ids: Iterable[str], *,
                     now: datetime | None = None) -> int:
    """Lock the held copies' objects ``worm_hold_keep`` ahead where less than half of it remains;
    returns how many locks were lengthened (0 with WORM off)."""
    store = archive.store
    if store.worm is None:
        return 0
    now = now or datetime.now(UTC)
    n, unit = parse_period(rt.settings.worm_hold_keep)
    until = add_period(now, n, unit)
    renew_before = now + (until - now) / 2
    extended = 0
    for key in held_object_keys(archive, item_ids):
        current = store.retain_until(key)
        if current is None or current < renew_before:
            extended += store.extend_retention(key, max(until, now + timedelta(seconds=1)))
    return extended
