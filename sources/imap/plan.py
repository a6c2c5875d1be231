"""The rules of mirroring IMAP folders, without a server or a catalogue: pure decisions.

- `reconcile` pairs the server's folders with the cursors of the last run: same folder (by
  stable id, else by name), renamed (stable id under a new name; without ids: a vanished folder
  and a new one with the same UIDVALIDITY), new, or gone (its archived copies stay).
- `plan_chunk` decides for new messages of a folder: already archived here (do not download;
  after a UIDVALIDITY change only the position is updated), possibly moved from another folder
  (the runner checks whether it is still there), or to fetch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mailark.catalog.folders import ArchivedItem
from mailark.sources.imap.client import FolderStatus, MessageInfo


def position(uidvalidity: int, uid: int, email_id: str | None, header_key: str | None) -> str:
    """The source position of an archived copy: "uidvalidity:uid:emailid:headerkey" (empty fields
    where unknown). The header key (a hash of the header section) recognises a message in
    another folder or after a UIDVALIDITY change when the server offers no stable id."""
    return f"{uidvalidity}:{uid}:{email_id or ''}:{header_key or ''}"


def parse_position(pos: str) -> tuple[int, int, str, str]:
    v, u, e, h = (pos.split(":", 3) + ["", "", "", ""])[:4]
    try:
        return int(v), int(u), e, h
    except ValueError:
        return 0, 0, e, h


def cursor_key(account: str, status: FolderStatus) -> str:
    return f"{account}|" + (f"id:{status.folder_id}" if status.folder_id else f"name:{status.name}")


def cursor_value(status: FolderStatus, last_uid: int, uidvalidity: int | None = None) -> dict[str, Any]:
    return {"name": status.name, "path": status.path, "uidvalidity": uidvalidity or status.uidvalidity,
            "last_uid": last_uid, "modseq": status.modseq, "folder_id": status.folder_id}


@dataclass
class FolderWork:
    status: FolderStatus
    key: str
    cursor: dict[str, Any] | None
    renamed_from: str | None = None  # the archive path it had (a rename on the server)

    @property
    def last_uid(self) -> int:
        """Where to go on from: 0 for a new folder or after a UIDVALIDITY change."""
        c = self.cursor
        return int(c["last_uid"]) if c and int(c["uidvalidity"]) == self.status.uidvalidity else 0

    @property
    def uidvalidity_changed(self) -> bool:
        return bool(self.cursor) and int(self.cursor["uidvalidity"]) != self.status.uidvalidity  # type: ignore[index]

    @property
    def unchanged(self) -> bool:
        """Nothing new since the last run (STATUS says so; no need to open the folder)."""
        return self.cursor is not None and not self.uidvalidity_changed and self.status.uidnext <= self.last_uid + 1


@dataclass
class FolderPlan:
    folders: list[FolderWork] = field(default_factory=list)
    gone: dict[str, dict[str, Any]] = field(default_factory=dict)  # cursor key -> cursor of a vanished folder


def reconcile(account: str, cursors: dict[str, dict[str, Any]], statuses: Sequence[FolderStatus]) -> FolderPlan:
    prefix = f"{account}|"
    mine = {k: v for k, v in cursors.items() if k.startswith(prefix)}
    by_id = {v["folder_id"]: k for k, v in mine.items() if v.get("folder_id")}
    by_name = {v["name"]: k for k, v in mine.items()}
    used: set[str] = set()
    plan = FolderPlan()
    fresh: list[FolderWork] = []
    for st in statuses:
        key = None
        if st.folder_id:
            key = by_id.get(st.folder_id)
        elif st.name in by_name and not mine[by_name[st.name]].get("folder_id"):
            key = by_name[st.name]
        if key is not None and key not in used:
            used.add(key)
            cur = mine[key]
            renamed = cur.get("path") if cur.get("path") != st.path else None
            plan.folders.append(FolderWork(st, key, cur, renamed))
        else:
            fresh.append(FolderWork(st, cursor_key(account, st), None))
    gone = {k: v for k, v in mine.items() if k not in used}
    # Without stable ids a rename shows as a vanished folder and a new one with its UIDVALIDITY
    # (RFC 3501 keeps UIDVALIDITY across RENAME); a unique match is taken as the rename.
    for w in fresh:
        if w.status.folder_id:
            plan.folders.append(w)
            continue
        same = [k for k, v in gone.items() if not v.get("folder_id") and int(v["uidvalidity"]) == w.status.uidvalidity]
        if len(same) == 1 and sum(1 for f in fresh if f.status.uidvalidity == w.status.uidvalidity) == 1:
            old = gone.pop(same[0])
            plan.gone[same[0]] = old  # the old key is dropped; the folder goes on under its new name
            w.cursor, w.renamed_from = old, old.get("path")
        plan.folders.append(w)
    plan.gone.update(gone)
    for w in plan.folders:
        if w.renamed_from is not None:
            plan.gone.pop(w.key, None)
    return plan


@dataclass
class ChunkPlan:
    known: list[MessageInfo] = field(default_factory=list)  # archived in this folder already
    positions: dict[str, str] = field(default_factory=dict)  # item_id -> new position (UIDVALIDITY change)
    maybe_moved: list[tuple[MessageInfo, list[ArchivedItem]]] = field(default_factory=list)
    fetch: list[MessageInfo] = field(default_factory=list)


def plan_chunk(infos: Sequence[MessageInfo], path: str, uidvalidity: int, found: Sequence[ArchivedItem]) -> ChunkPlan:
    """Match new messages to archived items: by stable id, else header key + size, else Message-ID + size."""
    by_sid: dict[str, list[ArchivedItem]] = defaultdict(list)
    by_hdr: dict[tuple[str, int], list[ArchivedItem]] = defaultdict(list)
    by_mid: dict[tuple[str, int], list[ArchivedItem]] = defaultdict(list)
    for it in found:
        if sid := it.field(3):
            by_sid[sid].append(it)
        if hk := it.field(4):
            by_hdr[(hk, it.size)].append(it)
        if it.message_id:
            by_mid[(it.message_id, it.size)].append(it)
    plan = ChunkPlan()
    taken: set[str] = set()
    for info in infos:
        matches: list[ArchivedItem] = []
        for index, key in ((by_sid, info.email_id), (by_hdr, (info.header_key, info.size)),
                           (by_mid, (info.message_id, info.size))):
            if (key[0] if isinstance(key, tuple) else key) and not matches:
                matches = [m for m in index.get(key, []) if m.item_id not in taken]  # type: ignore[call-overload]
        here = [m for m in matches if m.folder == path]
        pos = position(uidvalidity, info.uid, info.email_id, info.header_key)
        if here:
            taken.add(here[0].item_id)
            plan.known.append(info)
            if here[0].position != pos:
                plan.positions[here[0].item_id] = pos
        elif matches:
            plan.maybe_moved.append((info, matches))
        else:
            plan.fetch.append(info)
    return plan


def batches(infos: Sequence[MessageInfo], max_messages: int, max_bytes: int) -> list[list[MessageInfo]]:
    """Download batches bounded by count and bytes (a message larger than max_bytes goes alone)."""
    out: list[list[MessageInfo]] = []
    cur: list[MessageInfo] = []
    size = 0
    for i in infos:
        if cur and (len(cur) >= max_messages or size + i.size > max_bytes):
            out.append(cur)
            cur, size = [], 0
        cur.append(i)
        size += i.size
    if cur:
        out.append(cur)
    return out
