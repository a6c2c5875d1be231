"""Deleting archived copies for good (a compliance decision): rows, shared pieces, and bytes.

Single-instance storage shares a message between copies and a body between messages, so a copy's
deletion frees only what nothing else still uses: the message row and its skeleton when no other
copy refers to it, a body or attachment when no other message does. Skeletons and per-copy deltas
live in per-batch packs; a pack that still holds live entries is rewritten without the dead ones
(new pack, references updated), so deleted header text does not linger in a pack.

The catalogue changes in one commit inside the organization's lane; the freed objects are deleted
from the store after it (a crash in between leaves orphans that maintenance reports, never a
catalogue row pointing at nothing).

Immutable storage (WORM): a pack still locked is never rewritten; its dead entries leave the
catalogue now and the pack goes whole once its lock has passed (as an orphan when nothing lives in
it, else at the next deletion that touches it). A freed object the store still keeps locked is
reported in ``locked`` and removed by orphan cleanup after its lock passes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
from ulid import ULID

from mailark.catalog.archive import OrgArchive
from mailark.catalog.lake import ALIAS
from mailark.storage.objects import ObjectLocked
from mailark.storage.packs import EntryRef, PackReader, PackWriter, pack_name


@dataclass
class DeletionResult:
    copies: int = 0  # archived copies (and quarantined items) removed
    messages: int = 0  # distinct messages no copy refers to any more
    objects: int = 0  # stored objects deleted (bodies, attachments, packs, quarantined bytes)
    bytes_freed: int = 0  # stored bytes given back to the quota
    packs_rewritten: int = 0
    item_ids: list[str] = field(default_factory=list)
    # WORM: packs not rewritten because they are locked, and freed objects the store still keeps locked
    packs_locked: list[str] = field(default_factory=list)
    locked: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"copies": self.copies, "messages": self.messages, "objects": self.objects,
                                  "bytes_freed": self.bytes_freed, "packs_rewritten": self.packs_rewritten}
        if self.packs_locked or self.locked:
            out |= {"packs_locked": len(self.packs_locked), "objects_locked": len(self.locked)}
        return out


@dataclass(frozen=True)
class ArchivedCopy:
    item_id: str
    mailbox_id: str
    mailbox: str
    folder: str
    message_id: str | None
    subject: str | None
    date: datetime | None
    quarantined: bool


def _with_values(con, values: Iterable[str], sql: str, params: list[object]) -> list[tuple]:  # type: ignore[no-untyped-def, type-arg]
    con.register("_vals", pa.table({"v": pa.array(sorted(set(values)), pa.string())}))
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.unregister("_vals")


def find_copies(archive: OrgArchive, *, item_ids: list[str] | None = None, mailbox_ids: set[str] | None = None,
                message_id: str | None = None) -> list[ArchivedCopy]:
    """Copies by item id and/or by Message-ID, limited to `mailbox_ids` when given."""
    con, org = archive.lake, archive.org_id
    where, params = ["i.org_id = ?"], [org]
    if message_id is not None:
        where.append("m.message_id = ?")
        params.append(message_id)
    q_items = (f"SELECT i.item_id, i.mailbox_id, i.mailbox, i.folder, m.message_id, m.subject, m.date, false "
               f"FROM {ALIAS}.mailbox_items i JOIN {ALIAS}.messages m ON m.org_id = i.org_id "
               f"AND m.message_key = i.message_key WHERE {' AND '.join(where)}")
    q_quar = (f"SELECT i.item_id, i.mailbox_id, i.mailbox, i.folder, NULL, i.reason, i.quarantined_at, true "
              f"FROM {ALIAS}.quarantine i WHERE i.org_id = ?")
    if item_ids is not None:
        q_items += " AND i.item_id IN (SELECT v FROM _vals)"
        q_quar += " AND i.item_id IN (SELECT v FROM _vals)"
        rows = _with_values(con, item_ids, q_items, params)
        if message_id is None:
            rows += _with_values(con, item_ids, q_quar, [org])
    else:
        rows = con.execute(q_items, params).fetchall()
    copies = [ArchivedCopy(*r) for r in rows]
    if mailbox_ids is not None:
        copies = [c for c in copies if c.mailbox_id in mailbox_ids]
    return sorted(copies, key=lambda c: c.item_id)


def delete_copies(archive: OrgArchive, item_ids: list[str]) -> DeletionResult:
    """Delete these copies and whatever only they used; returns what was freed."""
    result = DeletionResult()
    if not item_ids:
        return result
    org = archive.org_id
    doomed_objects: list[str] = []
    with archive.lane():
        con = archive.lake  # the connection the lane attached afresh
        items = _with_values(con, item_ids, f"SELECT item_id, message_key, delta_ref FROM {ALIAS}.mailbox_items "
                             f"WHERE org_id = ? AND item_id IN (SELECT v FROM _vals)", [org])
        quar = _with_values(con, item_ids, f"SELECT item_id, object_key FROM {ALIAS}.quarantine "
                            f"WHERE org_id = ? AND item_id IN (SELECT v FROM _vals)", [org])
        if not items and not quar:
            return result
        result.item_ids = sorted({r[0] for r in items} | {r[0] for r in quar})
        con.execute("BEGIN")
        try:
            _delete_in(con, "mailbox_items", "item_id", [r[0] for r in items], org)
            _delete_in(con, "quarantine", "item_id", [r[0] for r in quar], org)
            result.copies = len(items) + len(quar)

            keys = {r[1] for r in items}
            still = {r[0] for r in _with_values(con, keys, f"SELECT DISTINCT message_key FROM {ALIAS}.mailbox_items "
                                                 f"WHERE org_id = ? AND message_key IN (SELECT v FROM _vals)", [org])}
            dead_keys = keys - still
            skeletons = _with_values(con, dead_keys, f"SELECT skeleton_ref FROM {ALIAS}.messages "
                                     f"WHERE org_id = ? AND message_key IN (SELECT v FROM _vals)", [org])
            part_objects = {r[0] for r in _with_values(con, dead_keys, f"SELECT object_key FROM {ALIAS}.parts "
                                                       f"WHERE org_id = ? AND message_key IN (SELECT v FROM _vals)", [org])}
            _delete_in(con, "parts", "message_key", dead_keys, org)
            _delete_in(con, "messages", "message_key", dead_keys, org)
            result.messages = len(dead_keys)

            used = {r[0] for r in _with_values(con, part_objects, f"SELECT DISTINCT object_key FROM {ALIAS}.parts "
                                               f"WHERE org_id = ? AND object_key IN (SELECT v FROM _vals)", [org])}
            quar_objects = {r[1] for r in quar if r[1]}
            used |= {r[0] for r in _with_values(con, quar_objects, f"SELECT DISTINCT object_key FROM {ALIAS}.quarantine "
                                                f"WHERE org_id = ? AND object_key IN (SELECT v FROM _vals)", [org])}
            dead_objects = (part_objects | quar_objects) - used

            touched_packs = {EntryRef.parse(r[0]).pack_id for r in skeletons if r[0]}
            touched_packs |= {EntryRef.parse(r[2]).pack_id for r in items if r[2]}
            for pack_id in sorted(touched_packs):
                name = pack_name(org, pack_id)
                if archive.store.worm is not None and archive.store.locked(name) is not None:
                    result.packs_locked.append(name)  # never rewritten while locked
                    if not _live_entries(con, org, pack_id):
                        dead_objects.add(name)  # nothing lives in it: deleted whole once its lock passes
                    continue
                if _rewrite_pack(archive, pack_id):
                    result.packs_rewritten += 1
                dead_objects.add(name)

            freed = _with_values(con, dead_objects, f"SELECT coalesce(sum(stored_size), 0), count(*) FROM {ALIAS}.objects "
                                 f"WHERE org_id = ? AND object_key IN (SELECT v FROM _vals)", [org])
            result.bytes_freed, result.objects = int(freed[0][0]), int(freed[0][1])
            _delete_in(con, "objects", "object_key", dead_objects, org)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        doomed_objects = sorted(dead_objects)
    for name in doomed_objects:
        try:
            archive.store.delete(name)
        except ObjectLocked:
            result.locked.append(name)  # an orphan now: orphan cleanup removes it after the lock
    return result


def _live_entries(con, org: str, pack_id: str) -> bool:  # type: ignore[no-untyped-def]
    prefix = pack_id + ":"
    return bool(con.execute(f"SELECT 1 FROM {ALIAS}.messages WHERE org_id = ? AND starts_with(skeleton_ref, ?) "
                            f"UNION ALL SELECT 1 FROM {ALIAS}.mailbox_items WHERE org_id = ? "
                            f"AND starts_with(delta_ref, ?) LIMIT 1", [org, prefix, org, prefix]).fetchall())


def _delete_in(con, table: str, column: str, values: Iterable[str], org: str) -> None:  # type: ignore[no-untyped-def]
    values = set(values)
    if values:
        _with_values(con, values, f"DELETE FROM {ALIAS}.{table} WHERE org_id = ? AND {column} IN (SELECT v FROM _vals)", [org])


def _update_refs(con, org: str, table: str, key: str, column: str, pairs: list[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    if not pairs:
        return
    con.register("_refs", pa.table({"k": [p[0] for p in pairs], "ref": [p[1] for p in pairs]}))
    try:
        con.execute(f"UPDATE {ALIAS}.{table} SET {column} = _refs.ref FROM _refs "
                    f"WHERE {table}.org_id = ? AND {table}.{key} = _refs.k", [org])
    finally:
        con.unregister("_refs")


def _rewrite_pack(archive: OrgArchive, pack_id: str) -> bool:
    """Copy the pack's live entries into a new pack and point their rows at it; False if none live.

    Runs inside the caller's transaction: the new pack's objects row and the reference updates
    commit together with the deletion.
    """
    con, org = archive.lake, archive.org_id
    prefix = pack_id + ":"
    skel = con.execute(f"SELECT message_key, skeleton_ref FROM {ALIAS}.messages WHERE org_id = ? "
                       f"AND starts_with(skeleton_ref, ?)", [org, prefix]).fetchall()
    deltas = con.execute(f"SELECT item_id, delta_ref FROM {ALIAS}.mailbox_items WHERE org_id = ? "
                         f"AND starts_with(delta_ref, ?)", [org, prefix]).fetchall()
    if not skel and not deltas:
        return False
    reader = PackReader(org, archive.store, archive.sealer)
    new_id = str(ULID()).lower()
    writer = PackWriter(org, new_id, archive.sealer)
    skel_idx = [(key, writer.add(reader.read(ref))) for key, ref in skel]
    delta_idx = [(item, writer.add(reader.read(ref))) for item, ref in deltas]
    blob, refs, plain = writer.finish()
    archive.store.put_if_absent(writer.name, blob, durable=True)
    _update_refs(con, org, "messages", "message_key", "skeleton_ref", [(k, str(refs[i])) for k, i in skel_idx])
    _update_refs(con, org, "mailbox_items", "item_id", "delta_ref", [(k, str(refs[i])) for k, i in delta_idx])
    con.execute(f"INSERT INTO {ALIAS}.objects (org_id, object_key, kind, plain_size, stored_size, batch_id, created_at) "
                f"VALUES (?, ?, 'pack', ?, ?, ?, ?)", [org, writer.name, plain, len(blob), new_id, datetime.now(UTC)])
    return True
