"""Archiving one batch: split, store, and catalogue in one idempotent DuckLake commit.

The order makes a batch safe to kill at any point and to run twice, alone or beside another:
1. split every message and write its heavy parts (put-if-absent; content-addressed, so a
   racing or repeated write stores the same thing);
2. in the organization's commit lane: ask the catalogue what already exists (copies, messages,
   objects), write one pack with the new small pieces, make the writes durable, then append the
   new rows and the ledger row in one commit.
A run killed before 2 leaves only unreferenced objects (found by orphan detection); a re-run
then archives what is missing and counts the rest as duplicates.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
from ulid import ULID

from mailark.catalog.archive import OrgArchive
from mailark.catalog.ids import new_ids
from mailark.catalog.lake import ALIAS, LakeError, one_thread, scanned_once
from mailark.storage.metadata import MessageMeta, extract
from mailark.storage.mime import NotAMessage, Part, Split
from mailark.storage.packs import PackWriter

# Objects above this size are looked up before sealing: skipping a known attachment saves
# compressing, encrypting and uploading it again.
CHECK_BEFORE_WRITE = 64 * 1024
COMMIT_ATTEMPTS = 3


@dataclass(frozen=True)
class Incoming:
    """A message to archive with its provenance; `problem` set means quarantine it with that reason."""

    raw: bytes
    mailbox_id: str
    mailbox: str
    folder: str
    source: str
    position: str
    problem: str | None = None


@dataclass
class Counts:
    seen: int = 0
    archived: int = 0
    duplicates: int = 0
    quarantined: int = 0
    deferred: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, other: Counts) -> None:
        self.seen += other.seen
        self.archived += other.archived
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.deferred += other.deferred
        self.reasons.update(other.reasons)

    def as_dict(self) -> dict[str, object]:
        return {
            "seen": self.seen,
            "archived": self.archived,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "deferred": self.deferred,
            "reasons": dict(self.reasons),
        }


@dataclass
class _Prepared:
    item: Incoming  # without its raw bytes (stored by then)
    sha256: str
    size: int
    split: Split | None = None
    meta: MessageMeta | None = None
    reason: str | None = None  # quarantine reason
    object_key: str | None = None  # quarantined bytes' object
    lock_until: datetime | None = None  # WORM: lock its objects until then (the store's put hook)

    @property
    def copy_key(self) -> tuple[str, ...]:
        """What makes a copy a duplicate: its bytes in a mailbox folder. A problem reported by the
        source (a pipe, an unreadable file or PST) or an item without bytes is told apart by where it
        came from too: else every such item would share the SHA-256 of nothing and only the first
        would leave a trace."""
        if self.item.problem is not None or self.size == 0:
            return (self.item.mailbox_id, self.item.folder, self.sha256, self.item.source, self.item.position)
        return (self.item.mailbox_id, self.item.folder, self.sha256)


@dataclass
class _NewObject:
    key: str
    kind: str
    plain: int
    stored: int


_CONSUMED = Incoming(b"", "", "", "", "", "")  # what a consumed batch holds in place of its messages


def _reason_kind(reason: str) -> str:
    """The ledger groups reasons by their first clause (details stay in the quarantine rows)."""
    return reason.split(":", 1)[0]


class BatchWriter:
    """Archives batches for one organization within one run (a flow run or a CLI call)."""

    def __init__(self, archive: OrgArchive, run_id: str, source: str) -> None:
        self.archive = archive
        self.run_id = run_id
        self.source = source
        self._splitter = archive.splitter()
        # Bytes the organization occupies, summed from the catalogue once per run and then kept
        # up to date with what this writer adds (re-summing the objects table every batch grew
        # with the archive). Another writer's additions meanwhile are seen by the next run.
        self._used: int | None = None

    # ---- step 1: outside the lane ---------------------------------------------------------
    # One message at a time: split it, store its parts (or its quarantined bytes), keep only
    # what the commit needs. A batch's raw bytes and decoded parts are never all alive at once.

    def _prepare(self, items: list[Incoming], counts: Counts, consume: bool) -> tuple[list[_Prepared], dict[str, _NewObject]]:
        arch = self.archive
        prepared: list[_Prepared] = []
        written: dict[str, _NewObject] = {}
        seen_copies: set[tuple[str, ...]] = set()
        quota = arch.storage_quota_bytes
        if quota is not None and self._used is None:
            self._used = storage_used(arch)
        used = self._used or 0
        plan = arch.lock_plan() if arch.lock_plan is not None and arch.store.worm else None
        now = datetime.now(UTC)
        for n in range(len(items)):
            item = items[n]
            if consume:
                items[n] = _CONSUMED
            p = _Prepared(replace(item, raw=b""), hashlib.sha256(item.raw).hexdigest(), size=len(item.raw))
            raw, item = item.raw, p.item  # only `raw` holds the bytes now: dropped once split (a huge message)
            if p.copy_key in seen_copies:
                counts.duplicates += 1
                continue
            seen_copies.add(p.copy_key)
            if item.mailbox_id in arch.retired_mailboxes:
                counts.deferred += 1
                counts.reasons["deferred: mailbox retired"] += 1
                continue
            if arch.paused_reason is not None:
                counts.deferred += 1
                counts.reasons[f"deferred: {arch.paused_reason}"] += 1
                continue
            # The raw size bounds what a copy can add (compression and dedup only shrink it).
            if quota is not None and used + p.size > quota:
                grown = arch.expand_quota(used + p.size) if arch.expand_quota else None
                if grown is not None and used + p.size <= grown:
                    quota = arch.storage_quota_bytes = grown  # the licence auto-expanded right here
                else:
                    counts.deferred += 1
                    counts.reasons["deferred: storage quota full"] += 1
                    continue
            used += p.size
            if item.problem:
                p.reason = item.problem
            else:
                try:
                    p.split = self._splitter.split(raw)
                    p.meta = extract(p.split.top_fields, p.split.leaves, p.split.top_names)
                    p.meta.defects.extend(p.split.defects)
                    p.split.leaves, p.split.top_fields, p.split.top_names = [], [], []
                except NotAMessage as e:
                    p.reason = str(e)
                except Exception as e:  # noqa: BLE001 - a hostile message must not stop the batch
                    p.split = None
                    p.reason = f"unparseable: {type(e).__name__}: {e}"
            if plan is not None:
                p.lock_until = plan(item.mailbox_id, item.folder, p.meta.date if p.meta else None, now)
            if p.split is not None:
                raw = b""  # the parts, skeleton and delta rebuild it; only a quarantined copy stores it
            self._store(p, raw, written)
            prepared.append(p)
        return prepared, written

    def _store(self, p: _Prepared, raw: bytes, written: dict[str, _NewObject]) -> None:
        arch = self.archive
        store, sealer = arch.store, arch.sealer

        def put(key: str, content: bytes, kind: str) -> None:
            if key in written:
                if p.lock_until is not None:
                    store.extend_retention(key, p.lock_until)
                return
            if len(content) > CHECK_BEFORE_WRITE and store.exists(key):
                stored = store.size(key)
                if p.lock_until is not None:
                    store.extend_retention(key, p.lock_until)
            else:
                blob = sealer.seal(content, key)
                store.put_if_absent(key, blob, retain_until=p.lock_until)
                stored = len(blob)
            written[key] = _NewObject(key, kind, len(content), stored)

        if p.split is not None:
            for part in p.split.parts:
                put(arch.object_name(part.digest), part.content, "part")
                part.content = b""  # stored: free the memory at once
        else:
            p.object_key = arch.object_name(arch.keys.name_digest(raw))
            put(p.object_key, raw, "quarantine")

    # ---- step 2: inside the lane ----------------------------------------------------------

    def write(self, items: list[Incoming], *, consume: bool = False) -> Counts:
        """Archive a batch in one catalogue commit. With `consume`, the list is emptied as its
        messages are stored, so their bytes are freed while the batch goes on."""
        if any(it is _CONSUMED for it in items):
            raise ValueError("this batch was consumed by an earlier write(consume=True): it cannot be written again")
        try:
            with one_thread(self.archive.lake):
                return self._write(items, consume)
        except duckdb.Error as e:
            raise self._damaged(e) from e

    def _damaged(self, e: duckdb.Error) -> Exception:
        """A catalogue file that does not read stops every batch of the organization: name it, and how to restore it."""
        from mailark.catalog.lake_files import damage_error

        try:
            named = damage_error(self.archive.lake, self.archive.org_id, self.archive.store.data_path())
        except duckdb.Error:
            named = None
        return named or e

    def _write(self, items: list[Incoming], consume: bool) -> Counts:
        started = datetime.now(UTC)
        base = Counts(seen=len(items))
        mailboxes = {it.mailbox for it in items}
        prepared, objects = self._prepare(items, base, consume)
        for _ in range(COMMIT_ATTEMPTS):
            counts = Counts(base.seen, base.archived, base.duplicates, base.quarantined, base.deferred, Counter(base.reasons))
            with self.archive.lane():
                batch_id, added = self._commit(prepared, objects, counts, started, mailboxes)
                if self._landed(batch_id):
                    if self._used is not None:
                        self._used += added
                    return counts
        raise LakeError(
            f"the catalogue did not record a batch of {len(items)} messages after {COMMIT_ATTEMPTS} attempts; "
            f"nothing is lost (its objects are stored): run the same import again"
        )

    def record_failure(self, reason: str, mailbox: str = "*", seen: int = 0) -> None:
        """A run that could not fetch (server down, wrong password) leaves a ledger row with its reason,
        so the ledger shows every run; `seen` counts messages it saw but could not take."""
        now = datetime.now(UTC)
        row = dict(
            org_id=self.archive.org_id, run_id=self.run_id, batch_id=str(ULID()).lower(), source=self.source,
            mailbox=mailbox, seen=seen, archived=0, duplicates=0, quarantined=0, deferred=seen,
            reasons=json.dumps({f"failed: {reason}": 1}), started_at=now, finished_at=now,
        )
        with self.archive.lane():
            _insert(self.archive.lake, "ingest_ledger", [row])

    def _landed(self, batch_id: str) -> bool:
        """Read back the batch's ledger row: a commit that returned must also be there."""
        row = self.archive.lake.execute(
            f"SELECT count(*) FROM {ALIAS}.ingest_ledger WHERE org_id = ? AND batch_id = ?", [self.archive.org_id, batch_id]
        ).fetchone()
        return bool(row and row[0])

    def _existing_all(self, good: list[_Prepared], bad: list[_Prepared], message_keys: set[str],
                      object_keys: set[str]) -> dict[str, set[tuple[str, ...]]]:
        """What the catalogue already holds of a batch, in one query (each query on the lake costs
        a catalog round trip of ~30 ms): copies archived and quarantined (their keys in both forms, see
        `_Prepared.copy_key`), message keys and object keys."""
        have: dict[str, set[tuple[str, ...]]] = {"item": set(), "quarantine": set(), "message": set(), "object": set()}
        cand = {"item": [p.sha256 for p in good], "quarantine": [p.sha256 for p in bad],
                "message": sorted(message_keys), "object": sorted(object_keys)}
        parts = []
        copy_cols = "mailbox_id, folder, copy_sha256, source, source_position"
        for kind, table, cols, key in (("item", "mailbox_items", copy_cols, "copy_sha256"),
                                       ("quarantine", "quarantine", copy_cols, "copy_sha256"),
                                       ("message", "messages", "message_key, NULL, NULL, NULL, NULL", "message_key"),
                                       ("object", "objects", "object_key, NULL, NULL, NULL, NULL", "object_key")):
            if cand[kind]:
                parts.append((kind, (f"SELECT DISTINCT '{kind}' AS k, {cols} FROM {ALIAS}.{table} "
                                     f"WHERE org_id = $org AND {key} IN (SELECT v FROM _cand_{kind})")))
        if not parts:
            return have
        con = self.archive.lake
        with ExitStack() as visible:  # each branch reads its own candidates (a stream reads once)
            for kind, _ in parts:
                visible.enter_context(scanned_once(con, f"_cand_{kind}", pa.table({"v": pa.array(cand[kind], pa.string())})))
            rows = con.execute(" UNION ALL ".join(sql for _, sql in parts), {"org": self.archive.org_id}).fetchall()
        for kind, a, b, c, source, position in rows:
            if kind in ("item", "quarantine"):
                have[kind] |= {(a, b, c), (a, b, c, source, position)}
            else:
                have[kind].add((a,))
        return have

    def _commit(
        self,
        prepared: list[_Prepared],
        objects: dict[str, _NewObject],
        counts: Counts,
        started: datetime,
        mailboxes: set[str],
    ) -> tuple[str, int]:
        """Append what is new in one commit; returns the batch id and the bytes it stored."""
        arch = self.archive
        org = arch.org_id
        good = [p for p in prepared if p.split is not None]
        bad = [p for p in prepared if p.split is None]
        candidate_objects = {arch.object_name(pt.digest) for p in good if p.split for pt in p.split.parts}
        candidate_objects |= {p.object_key for p in bad if p.object_key}
        have = self._existing_all(good, bad, {p.split.message_digest.hex() for p in good if p.split}, candidate_objects)
        have_items, have_quar = have["item"], have["quarantine"]
        new_good = [p for p in good if p.copy_key not in have_items]
        new_bad = [p for p in bad if p.copy_key not in have_quar]
        counts.duplicates += len(good) - len(new_good) + len(bad) - len(new_bad)
        counts.archived += len(new_good)
        counts.quarantined += len(new_bad)
        for p in new_bad:
            counts.reasons[_reason_kind(p.reason or "quarantined")] += 1

        have_msgs = {k for (k,) in have["message"]}
        needed_objects = {k for p in new_good if p.split for k in (arch.object_name(pt.digest) for pt in p.split.parts)}
        needed_objects |= {p.object_key for p in new_bad if p.object_key}
        have_objs = {k for (k,) in have["object"]}

        batch_id = str(ULID()).lower()
        now = datetime.now(UTC)
        pack = PackWriter(org, batch_id, arch.sealer)
        new_messages: dict[str, tuple[_Prepared, int]] = {}
        delta_idx: dict[int, int] = {}
        for i, p in enumerate(new_good):
            assert p.split is not None
            key = p.split.message_digest.hex()
            if key not in have_msgs and key not in new_messages:
                new_messages[key] = (p, pack.add(p.split.skeleton))
            if p.split.delta:
                delta_idx[i] = pack.add(p.split.delta)

        rows_objects = [o for k, o in objects.items() if k in needed_objects and k not in have_objs]
        refs = []
        if len(pack):
            blob, refs, plain = pack.finish()
            # WORM: a pack is locked until the earliest lock of its entries, so it never blocks
            # a due deletion (docs/retention.md, "Immutable storage").
            locks = [p.lock_until for p in new_good if p.lock_until is not None]
            arch.store.put_if_absent(pack.name, blob, retain_until=min(locks) if locks else None)
            rows_objects.append(_NewObject(pack.name, "pack", plain, len(blob)))
        arch.store.flush()

        tables: dict[str, list[dict[str, object]]] = {t: [] for t in ("messages", "mailbox_items", "parts", "objects", "quarantine")}
        for key, (p, idx) in new_messages.items():
            m, s = p.meta or MessageMeta(), p.split
            assert s is not None
            tables["messages"].append(
                dict(org_id=org, message_key=key, batch_id=batch_id, message_id=m.message_id, subject=m.subject,
                     from_addr=m.from_addr, from_name=m.from_name, to_addrs=m.to_addrs, cc_addrs=m.cc_addrs,
                     date=m.date, size=p.size, skeleton_ref=str(refs[idx]), skeleton_size=len(s.skeleton),
                     attachment_count=m.attachment_count, attachment_names=m.attachment_names,
                     defects=m.defects, first_seen=now)
            )
            for n, part in enumerate(s.parts):
                tables["parts"].append(_part_row(org, key, n, arch.object_name(part.digest), batch_id, part))
        item_ids = iter(new_ids(len(new_good) + len(new_bad)))
        for i, p in enumerate(new_good):
            assert p.split is not None and p.meta is not None
            it = p.item
            tables["mailbox_items"].append(
                dict(org_id=org, item_id=next(item_ids), mailbox_id=it.mailbox_id, mailbox=it.mailbox,
                     folder=it.folder, message_key=p.split.message_digest.hex(), copy_sha256=p.sha256,
                     size=p.size, delta_ref=str(refs[delta_idx[i]]) if i in delta_idx else None,
                     bcc_addrs=p.meta.bcc_addrs, source=it.source, source_position=it.position,
                     batch_id=batch_id, archived_at=now)
            )
        for p in new_bad:
            it = p.item
            tables["quarantine"].append(
                dict(org_id=org, item_id=next(item_ids), mailbox_id=it.mailbox_id, mailbox=it.mailbox,
                     folder=it.folder, object_key=p.object_key, copy_sha256=p.sha256, size=p.size,
                     reason=p.reason, source=it.source, source_position=it.position, batch_id=batch_id,
                     quarantined_at=now)
            )
        for o in rows_objects:
            tables["objects"].append(
                dict(org_id=org, object_key=o.key, kind=o.kind, plain_size=o.plain, stored_size=o.stored,
                     batch_id=batch_id, created_at=now)
            )
        mailboxes = set(mailboxes)
        ledger = dict(
            org_id=org, run_id=self.run_id, batch_id=batch_id, source=self.source,
            mailbox=mailboxes.pop() if len(mailboxes) == 1 else "*", seen=counts.seen, archived=counts.archived,
            duplicates=counts.duplicates, quarantined=counts.quarantined, deferred=counts.deferred,
            reasons=json.dumps(dict(counts.reasons), sort_keys=True), started_at=started, finished_at=now,
        )
        con = arch.lake
        con.execute("BEGIN")
        try:
            for table, rows in tables.items():
                if rows:
                    _insert(con, table, rows)
            _insert(con, "ingest_ledger", [ledger])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return batch_id, sum(o.stored for o in rows_objects)


def _part_row(org: str, key: str, n: int, object_key: str, batch_id: str, part: Part) -> dict[str, object]:
    r = part.recipe
    recipe = "raw" if r.kind == 0 else f"base64:{r.line_len}:{'crlf' if r.crlf else 'lf'}:{int(r.final_eol)}"
    return dict(org_id=org, message_key=key, ordinal=n, object_key=object_key, batch_id=batch_id,
                content_type=part.content_type, filename=part.filename, plain_size=part.plain_size,
                encoded_size=part.encoded_size, recipe=recipe)


def _query_with(con: duckdb.DuckDBPyConnection, cand: pa.Table, sql: str,
                params: list[object] | dict[str, object]) -> list[tuple]:  # type: ignore[type-arg]
    """Run `sql` with `cand` visible as `_cand` (Arrow is far faster than binding a long list)."""
    con.register("_cand", cand)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.unregister("_cand")


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, object]]) -> None:
    with scanned_once(con, "_batch_rows", pa.Table.from_pylist(rows)):
        con.execute(f"INSERT INTO {ALIAS}.{table} BY NAME SELECT * FROM _batch_rows")


def storage_used(archive: OrgArchive) -> int:
    """Bytes the organization occupies: its objects plus its Parquet files (as metering counts them:
    catalog.usage.lake_bytes, without the meter's own `usage` rows)."""
    from mailark.catalog.usage import lake_bytes

    row = archive.lake.execute(
        f"SELECT coalesce(sum(stored_size), 0) FROM {ALIAS}.objects WHERE org_id = ?", [archive.org_id]
    ).fetchone()
    return int(row[0] if row else 0) + lake_bytes(archive.lake, archive.org_id)
