"""The folder view of mirrored sources: items that moved between folders, folders that were renamed.

A mail server is the truth about *where* a message is, never about whether it is kept: moves and
renames on the server are applied to `mailbox_items` (its folder and source position), deletions
are not. Each change is recorded in `item_moves` (one row per moved item, one per renamed folder)
in the same commit, inside the organization's commit lane like any batch (see catalog.ingest).

Mirrored sources write source positions of ":"-separated fields (IMAP: "uidvalidity:uid:emailid:
headerkey"); `find_items` looks items up by one of those fields (a server's stable message id, a
hash of the header) or by Message-ID + size.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
from ulid import ULID

from mailark.catalog.archive import OrgArchive
from mailark.catalog.ingest import _insert, _query_with
from mailark.catalog.lake import ALIAS, LakeError


@dataclass(frozen=True)
class ArchivedItem:
    item_id: str
    folder: str
    position: str
    size: int
    message_id: str | None

    def field(self, n: int) -> str:
        """The n-th (1-based) ":"-separated field of the source position, "" if none."""
        parts = self.position.split(":")
        return parts[n - 1] if len(parts) >= n else ""


@dataclass(frozen=True)
class Move:
    item_id: str
    from_folder: str
    to_folder: str
    position: str  # where the item is now on the server


def has_items(archive: OrgArchive, mailbox_id: str, source: str) -> bool:
    """Whether `source` archived anything into the mailbox yet (messages or quarantined items)."""
    return any(archive.lake.execute(
        f"SELECT 1 FROM {ALIAS}.{t} WHERE org_id = ? AND mailbox_id = ? AND source = ? LIMIT 1",
        [archive.org_id, mailbox_id, source],
    ).fetchone() for t in ("mailbox_items", "quarantine"))


def find_items(
    archive: OrgArchive,
    mailbox_id: str,
    source: str,
    fields: dict[int, Sequence[str]],
    id_sizes: Sequence[tuple[str, int]],
) -> list[ArchivedItem]:
    """Items of a mailbox (from `source`) whose n-th position field is among `fields[n]`, or whose
    (Message-ID, size) is in `id_sizes`."""
    fields = {int(n): [v for v in vs if v] for n, vs in fields.items()}
    fields = {n: vs for n, vs in fields.items() if vs}
    if not fields and not id_sizes:
        return []
    keys, nums = [], []
    for n, vs in fields.items():
        keys += vs
        nums += [n] * len(vs)
    keys += [f"{m}\x00{size}" for m, size in id_sizes]
    nums += [0] * len(id_sizes)
    cand = pa.table({"n": pa.array(nums, pa.int64()), "k": pa.array(keys, pa.string())})
    # Equality semi-joins only (hash joins): a mailbox may hold millions of items.
    conds = [f"split_part(i.source_position, ':', {n}) IN (SELECT k FROM _cand WHERE n = {n})" for n in fields]
    if id_sizes:
        conds.append("(m.message_id || chr(0) || CAST(i.size AS VARCHAR)) IN (SELECT k FROM _cand WHERE n = 0)")
    # Quarantined copies (kept raw, not parseable) are items of the folder view too; they have no Message-ID.
    qconds = [c for c in conds if "m.message_id" not in c] or ["false"]
    rows = _query_with(
        archive.lake, cand,
        f"""SELECT DISTINCT i.item_id, i.folder, i.source_position, i.size, m.message_id
            FROM {ALIAS}.mailbox_items i JOIN {ALIAS}.messages m ON m.org_id = i.org_id AND m.message_key = i.message_key
            WHERE i.org_id = ? AND i.mailbox_id = ? AND i.source = ? AND ({' OR '.join(conds)})
            UNION ALL
            SELECT i.item_id, i.folder, i.source_position, i.size, NULL FROM {ALIAS}.quarantine i
            WHERE i.org_id = ? AND i.mailbox_id = ? AND i.source = ? AND ({' OR '.join(qconds)})""",
        [archive.org_id, mailbox_id, source] * 2,
    )
    return [ArchivedItem(r[0], r[1], r[2], int(r[3]), r[4]) for r in rows]


def _commit(archive: OrgArchive, work: list[tuple[str, list[object]]], moves: list[dict[str, object]],
            updates: pa.Table | None = None) -> None:
    con = archive.lake
    con.execute("BEGIN")
    try:
        if updates is not None:
            con.register("_updates", updates)
        for sql, params in work:
            con.execute(sql, params)
        if moves:
            _insert(con, "item_moves", moves)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        if updates is not None:
            con.unregister("_updates")


def move_items(archive: OrgArchive, mailbox_id: str, moves: Sequence[Move], *, source: str, run_id: str) -> int:
    """Put items into the folders they moved to on the server; returns how many moved."""
    if not moves:
        return 0
    now = datetime.now(UTC)
    updates = pa.table({
        "item_id": [m.item_id for m in moves], "to_folder": [m.to_folder for m in moves],
        "pos": [m.position for m in moves],
    })
    rows = [dict(org_id=archive.org_id, move_id=str(ULID()).lower(), mailbox_id=mailbox_id, item_id=m.item_id,
                 kind="move", from_folder=m.from_folder, to_folder=m.to_folder, items=1, source=source,
                 source_position=m.position, run_id=run_id, moved_at=now) for m in moves]
    work: list[tuple[str, list[object]]] = [(
        f"UPDATE {ALIAS}.{t} SET folder = u.to_folder, source_position = u.pos FROM _updates u "
        f"WHERE {ALIAS}.{t}.org_id = ? AND {ALIAS}.{t}.mailbox_id = ? AND {ALIAS}.{t}.item_id = u.item_id",
        [archive.org_id, mailbox_id],
    ) for t in ("mailbox_items", "quarantine")]
    with archive.lane():
        _commit(archive, work, rows, updates)
        _check(archive, mailbox_id, {m.item_id: m.to_folder for m in moves})
    return len(moves)


def set_positions(archive: OrgArchive, mailbox_id: str, positions: dict[str, str]) -> None:
    """Record where items are now (after a UIDVALIDITY change the same message has a new UID)."""
    if not positions:
        return
    updates = pa.table({"item_id": list(positions), "pos": list(positions.values())})
    work: list[tuple[str, list[object]]] = [(
        f"UPDATE {ALIAS}.{t} SET source_position = u.pos FROM _updates u "
        f"WHERE {ALIAS}.{t}.org_id = ? AND {ALIAS}.{t}.mailbox_id = ? AND {ALIAS}.{t}.item_id = u.item_id",
        [archive.org_id, mailbox_id],
    ) for t in ("mailbox_items", "quarantine")]
    with archive.lane():
        _commit(archive, work, [], updates)


def rename_folder(archive: OrgArchive, mailbox_id: str, old: str, new: str, *, source: str, run_id: str) -> int:
    """Items of `source` in folder `old` (exactly; subfolders have their own renames) go to `new`."""
    if old == new:
        return 0
    org = archive.org_id
    with archive.lane():
        row = archive.lake.execute(
            f"SELECT count(*) FROM {ALIAS}.mailbox_items WHERE org_id = ? AND mailbox_id = ? AND source = ? AND folder = ?",
            [org, mailbox_id, source, old],
        ).fetchone()
        n = int(row[0]) if row else 0
        record = dict(org_id=org, move_id=str(ULID()).lower(), mailbox_id=mailbox_id, item_id=None, kind="rename",
                      from_folder=old, to_folder=new, items=n, source=source, source_position=None, run_id=run_id,
                      moved_at=datetime.now(UTC))
        work: list[tuple[str, list[object]]] = [(
            f"UPDATE {ALIAS}.{table} SET folder = ? WHERE org_id = ? AND mailbox_id = ? AND source = ? AND folder = ?",
            [new, org, mailbox_id, source, old],
        ) for table in ("mailbox_items", "quarantine")]
        _commit(archive, work, [record])
        left = archive.lake.execute(
            f"SELECT count(*) FROM {ALIAS}.mailbox_items WHERE org_id = ? AND mailbox_id = ? AND source = ? AND folder = ?",
            [org, mailbox_id, source, old],
        ).fetchone()
        if left and left[0]:
            raise LakeError(f"renaming folder {old!r} to {new!r} did not land in the catalogue; the next run repeats it")
    return n


def _check(archive: OrgArchive, mailbox_id: str, expected: dict[str, str]) -> None:
    """Read the moved items back: a commit that returned must also be there."""
    rows = _query_with(
        archive.lake, pa.table({"v": list(expected)}),
        f"SELECT item_id, folder FROM {ALIAS}.mailbox_items WHERE org_id = ? AND mailbox_id = ? "
        f"AND item_id IN (SELECT v FROM _cand) UNION ALL "
        f"SELECT item_id, folder FROM {ALIAS}.quarantine WHERE org_id = ? AND mailbox_id = ? "
        f"AND item_id IN (SELECT v FROM _cand)",
        [archive.org_id, mailbox_id] * 2,
    )
    wrong = [r[0] for r in rows if expected.get(r[0]) != r[1]]
    if wrong:
        raise LakeError(f"{len(wrong)} moved item(s) did not land in the catalogue; the next run repeats the move")


def record_known(archive: OrgArchive, run_id: str, source: str, mailbox: str, reasons: dict[str, int]) -> None:
    """A ledger row for messages the source saw but did not download, because the archive holds
    them already (in this folder, or in another one they were moved from): duplicates."""
    n = sum(reasons.values())
    if not n:
        return
    now = datetime.now(UTC)
    row = dict(org_id=archive.org_id, run_id=run_id, batch_id=str(ULID()).lower(), source=source, mailbox=mailbox,
               seen=n, archived=0, duplicates=n, quarantined=0, deferred=0,
               reasons=json.dumps(reasons, sort_keys=True), started_at=now, finished_at=now)
    with archive.lane():
        _insert(archive.lake, "ingest_ledger", [row])
