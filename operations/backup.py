"""Backup and restore of one organization or the whole deployment: control plane, catalogue, objects.

A backup is a directory:

    backup.json        what it is (format, scope, when, key-derivation salt, complete or not): no secrets, no names
    keyroom.sealed     the key-room part, encrypted: control-plane rows (wrapped keys included),
                       catalogue rows (Parquet pieces), the lists of objects and catalogue files with
                       their SHA-256, what could not be copied, and with --with-master-key the master key
    objects/<name>     the object store's objects, copied as they are (already ciphertext)
    lake-files/<name>  the organizations' catalogue Parquet files as they are (encrypted under keys only
                       this deployment's catalog holds): for `mailark repair` (operations/repair.py)

Nothing is skipped quietly: what cannot be copied is named (`not_copied`), the manifest says
`"complete": false` and restore refuses the backup. A finished backup is checked as
operations/backup_verify.py does (every copy rebuilt from it). Restore runs in steps with a journal,
so an interrupted one is finished by running it again.

The key room is sealed (storage/streams.py, AES-256-GCM in independent blocks) under a key
derived with scrypt from a passphrase (`--passphrase-file` or MAILARK_BACKUP_PASSPHRASE): without
it the backup reveals object sizes and organization ids, nothing else. Without the master key in
the backup, the restoring deployment must use the same master key (its id is checked first);
with it, restore re-wraps the organizations' keys under the restoring deployment's master key.

Rows are written logically (control plane as typed JSON rows, catalogue as Parquet), not as
database files, so a backup of a SQLite deployment restores into PostgreSQL and the other way
round, and one organization restores into a deployment that has others. The catalogue is read
inside the commit lane, so it is one consistent state; objects are copied after it, so every
object the catalogue references is in the backup (later objects are harmless orphans).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from mailark.catalog.integrity import org_lake_files
from mailark.catalog.lake import ALIAS, catalog_lane
from mailark.catalog.schema import TABLES
from mailark.control import audit
from mailark.control.models import Base, Organization
from mailark.control.orgs import Conflict, ControlError
from mailark.control.principals import Principal
from mailark.runtime import Runtime
from mailark.storage.crypto import DataKey, IntegrityError, Sealer
from mailark.storage.keys import MasterKey, WrappedKey
from mailark.storage.streams import SealedStreamWriter, open_sealed_stream

FORMAT = "mailark-backup-1"
KEYROOM = "keyroom.sealed"
LAKE_DIR = "lake-files"
ROWS_PER_PIECE = 100_000
# Deployment-wide or short-lived tables that an organization's backup leaves out.
NOT_PER_ORG = {"audit_events", "audit_head", "audit_checkpoints", "web_sessions", "login_failures", "operators",
               "operator_orgs"}
SCRYPT = {"n": 2**15, "r": 8, "p": 1}


class BackupError(ControlError):
    """The backup cannot be made or restored (the message says why and what to do)."""


@dataclass
class BackupSummary:
    path: str
    scope: str  # "deployment" or the organization's name
    organizations: int = 0
    control_rows: int = 0
    catalogue_rows: int = 0
    objects: int = 0
    object_bytes: int = 0
    catalogue_files: int = 0
    master_key_included: bool = False
    # What could not be copied ({"name", "reason"}): a backup with any is incomplete (exit 1).
    not_copied: list[dict[str, str]] = field(default_factory=list)
    # The check of the finished backup (operations/backup_verify.py), when it ran.
    verification: dict[str, Any] | None = None

    @property
    def complete(self) -> bool:
        return not self.not_copied and (self.verification is None or bool(self.verification.get("ok")))

    def as_dict(self) -> dict[str, object]:
        return {**self.__dict__, "complete": self.complete}


# ---- the key-room container: entries of (header, body) in a sealed stream ----------------------------


def _derive(passphrase: bytes, salt: bytes, params: dict[str, int]) -> Sealer:
    if not passphrase:
        raise BackupError("the backup passphrase is empty")
    key = hashlib.scrypt(passphrase, salt=salt, n=params["n"], r=params["r"], p=params["p"], maxmem=128 * 1024 * 1024, dklen=32)
    dk = DataKey(hashlib.sha256(b"mailark-backup-key-id" + key).digest()[:8], key)
    return Sealer("backup", dk, zstd_level=3)


def _entry(out: BinaryIO, header: dict[str, Any], body: bytes) -> None:
    h = json.dumps(header).encode()
    out.write(struct.pack(">I", len(h)) + h + struct.pack(">Q", len(body)))
    out.write(body)


class _BlockReader:
    """Reads exact byte counts from an iterator of blocks."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._it, self._buf = blocks, bytearray()

    def read(self, n: int) -> bytes | None:
        while len(self._buf) < n:
            try:
                self._buf += next(self._it)
            except StopIteration:
                if self._buf:
                    raise IntegrityError("the backup's key room ends inside an entry") from None
                return None
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


def _entries(blocks: Iterator[bytes]) -> Iterator[tuple[dict[str, Any], bytes]]:
    r = _BlockReader(blocks)
    while (raw := r.read(4)) is not None:
        header = json.loads(r.read(struct.unpack(">I", raw)[0]) or b"{}")
        body = r.read(struct.unpack(">Q", r.read(8) or b"")[0]) or b""
        yield header, body


# ---- control plane rows -----------------------------------------------------------------------------


def _enc(v: Any) -> Any:
    if isinstance(v, bytes):
        return {"$b": base64.b64encode(v).decode()}
    if isinstance(v, datetime):
        return {"$dt": v.isoformat()}
    return v


def _dec(v: Any) -> Any:
    if isinstance(v, dict):
        if "$b" in v:
            return base64.b64decode(v["$b"])
        if "$dt" in v:
            return datetime.fromisoformat(v["$dt"])
    return v


def _control_rows(s: Session, org_id: str | None) -> Iterator[tuple[Table, list[dict[str, Any]]]]:
    """Rows per table in dependency order: all of them, or those of one organization."""
    picked: dict[str, dict[str, set[Any]]] = {}  # table -> column -> values kept (for children)
    for t in Base.metadata.sorted_tables:
        q = select(t)
        if org_id is not None:
            if t.name in NOT_PER_ORG:
                continue
            if t.name == "organizations":
                q = q.where(t.c.id == org_id)
            elif "org_id" in t.c:
                q = q.where(t.c.org_id == org_id)
            else:
                fks = [fk for fk in t.foreign_keys if fk.column.table.name in picked]
                if not fks:
                    continue
                fk = fks[0]
                q = q.where(fk.parent.in_(picked[fk.column.table.name].get(fk.column.name, set())))
        rows = [dict(r._mapping) for r in s.execute(q)]
        picked[t.name] = {c.name: {r[c.name] for r in rows} for c in t.primary_key.columns}
        yield t, rows


# ---- backup -------------------------------------------------------------------------------------------


def _copy(rt: Runtime, name: str, path: Path) -> str:
    """Copy one object (or catalogue file) of the store to `path`; its SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    try:
        with path.open("wb") as o:
            for chunk in rt.store.iter_chunks(name):
                h.update(chunk)
                o.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return h.hexdigest()


def _copy_error(e: BaseException) -> str:
    return (str(e) or type(e).__name__).splitlines()[0]


def backup(rt: Runtime, dest: Path, passphrase: bytes, *, org_name: str | None = None,
           with_master_key: bool = False, verify: bool = True) -> BackupSummary:
    """Write a backup of the deployment (or of one organization) into the new directory `dest`.

    Whatever cannot be copied is named in `not_copied` and the backup is marked incomplete (the
    caller fails): a backup that silently skipped an object would be found out only at restore.
    With `verify`, the finished backup is checked as `verify_backup` does (every copy rebuilt)."""
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: back up into a new directory")
    org_id = rt.org(org_name).id if org_name else None
    dest.mkdir(parents=True, exist_ok=True)
    salt = os.urandom(16)
    sealer = _derive(passphrase, salt, SCRYPT)
    summary = BackupSummary(str(dest), org_name or "deployment", master_key_included=with_master_key)
    org_ids: list[str] = []
    with (dest / KEYROOM).open("wb") as f:
        w = SealedStreamWriter(sealer, KEYROOM, f)
        with rt.control() as s:
            for t, rows in _control_rows(s, org_id):
                _entry(w, {"kind": "control", "table": t.name}, json.dumps([{k: _enc(v) for k, v in r.items()} for r in rows]).encode())
                summary.control_rows += len(rows)
                if t.name == "organizations":
                    summary.organizations = len(rows)
                    org_ids = [r["id"] for r in rows]
        # One consistent catalogue state: no batch commits (nor compaction) while it is read.
        lake_files: list[dict[str, Any]] = []
        with catalog_lane(rt.settings, org_id, rt.lake, rt.store):
            where, params = ("WHERE org_id = ?", [org_id]) if org_id else ("", [])
            for table in TABLES:
                reader = rt.lake.execute(f"SELECT * FROM {ALIAS}.{table} {where}", params).to_arrow_reader(ROWS_PER_PIECE)
                for batch in reader:
                    buf = io.BytesIO()
                    pq.write_table(pa.Table.from_batches([batch]), buf)
                    _entry(w, {"kind": "catalogue", "table": table}, buf.getvalue())
                    summary.catalogue_rows += batch.num_rows
            expected = {r[0] for r in rt.lake.execute(f"SELECT object_key FROM {ALIAS}.objects {where}", params).fetchall()}
            # The catalogue's own Parquet files as they are (encrypted under keys only this deployment's
            # catalog holds): `mailark repair` puts a damaged one back; restore does not use them.
            for oid in org_ids:
                for lf in org_lake_files(rt.lake, rt.store, oid):
                    try:
                        sha = _copy(rt, lf.name, dest / LAKE_DIR / lf.name)
                    except Exception as e:  # noqa: BLE001 - named in the summary, the backup fails
                        summary.not_copied.append({"name": lf.name, "reason": _copy_error(e)})
                        continue
                    lake_files.append({"name": lf.name, "size": lf.size, "sha256": sha, "org_id": oid})
                    summary.catalogue_files += 1
        listing = []
        copied: set[str] = set()
        for info in rt.store.list(f"orgs/{org_id}/" if org_id else "orgs/"):
            if info.name.split("/", 3)[2:3] == ["search"]:
                continue  # the shared search index (search.shared): rebuilt from the catalogue after a restore
            path = dest / "objects" / info.name
            try:
                sha = _copy(rt, info.name, path)
            except ControlError:
                raise
            except Exception as e:  # noqa: BLE001 - named in the summary, the backup fails
                summary.not_copied.append({"name": info.name, "reason": _copy_error(e)})
                continue
            copied.add(info.name)
            listing.append({"name": info.name, "size": path.stat().st_size, "sha256": sha})
            summary.objects += 1
            summary.object_bytes += path.stat().st_size
        failed = {g["name"] for g in summary.not_copied}
        for name in sorted(expected - copied - failed):
            summary.not_copied.append({"name": name, "reason": "the catalogue lists it, but the object store does not have it"})
        _entry(w, {"kind": "objects"}, json.dumps(listing).encode())
        _entry(w, {"kind": "lake_files"}, json.dumps(lake_files).encode())
        _entry(w, {"kind": "not_copied"}, json.dumps(summary.not_copied).encode())
        if with_master_key:
            _entry(w, {"kind": "master_key", "key_id": rt.master_key.key_id}, rt.master_key.key)
        w.finish()
        f.flush()
        os.fsync(f.fileno())
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "scope": "organization" if org_id else "deployment",
                "org_id": org_id, "master_key_id": rt.master_key.key_id, "master_key_included": with_master_key,
                "kdf": {"name": "scrypt", "salt": salt.hex(), **SCRYPT},
                "complete": not summary.not_copied, "not_copied": len(summary.not_copied)}
    _write_manifest(dest, manifest)
    if verify:
        from mailark.operations.backup_verify import verify_backup

        summary.verification = verify_backup(rt, dest, passphrase).as_dict()
        if not summary.verification["ok"]:
            _write_manifest(dest, {**manifest, "complete": False, "verified": False})
        else:
            _write_manifest(dest, {**manifest, "verified": True})
    with rt.session(write=True) as s:
        audit.record(s, Principal.deployment_operator(), "backup.create", org_id=org_id, target=str(dest),
                     details={"scope": summary.scope, "organizations": summary.organizations, "objects": summary.objects,
                              "object_bytes": summary.object_bytes, "catalogue_rows": summary.catalogue_rows,
                              "complete": summary.complete, "not_copied": len(summary.not_copied),
                              "verified": summary.verification is not None})
    return summary


def _write_manifest(dest: Path, manifest: dict[str, Any]) -> None:
    tmp = dest / "backup.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, dest / "backup.json")


# ---- reading a backup's key room ------------------------------------------------------------------------


class KeyRoom:
    """A backup's manifest and its opened key room: the small entries in memory (after one pass that
    authenticates the whole stream), the catalogue pieces read again when asked for."""

    def __init__(self, src: Path, passphrase: bytes) -> None:
        self.src = src
        self.manifest = _read_manifest(src)
        kdf = self.manifest["kdf"]
        self._sealer = _derive(passphrase, bytes.fromhex(kdf["salt"]), {k: kdf[k] for k in ("n", "r", "p")})
        small = list(self._entries(catalogue=False))
        for _ in self._entries(catalogue=True):
            pass
        self.control: list[tuple[str, list[dict[str, Any]]]] = [(h["table"], json.loads(b)) for h, b in small if h["kind"] == "control"]
        self.objects: list[dict[str, Any]] = next((json.loads(b) for h, b in small if h["kind"] == "objects"), [])
        self.lake_files: list[dict[str, Any]] = next((json.loads(b) for h, b in small if h["kind"] == "lake_files"), [])
        self.not_copied: list[dict[str, str]] = next((json.loads(b) for h, b in small if h["kind"] == "not_copied"), [])
        master = next((b for h, b in small if h["kind"] == "master_key"), None)
        self.master_key = MasterKey(master) if master else None

    @property
    def org_id(self) -> str | None:
        return self.manifest.get("org_id")

    def rows(self, table: str) -> list[dict[str, Any]]:
        """The control-plane rows of one table, decoded."""
        return [{k: _dec(v) for k, v in r.items()} for name, rows in self.control if name == table for r in rows]

    def catalogue(self) -> Iterator[tuple[str, pa.Table]]:
        for h, body in self._entries(catalogue=True):
            yield h["table"], pq.read_table(io.BytesIO(body))

    def _chunks(self) -> Iterator[bytes]:
        with (self.src / KEYROOM).open("rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk

    def _entries(self, *, catalogue: bool) -> Iterator[tuple[dict[str, Any], bytes]]:
        """The key room's entries; the catalogue's (the bulk) only when asked, so memory stays bounded."""
        try:
            for h, body in _entries(open_sealed_stream(self._sealer, KEYROOM, self._chunks())):
                if (h["kind"] == "catalogue") == catalogue:
                    yield h, body
        except IntegrityError:
            raise BackupError("cannot open the backup's key room: wrong passphrase, or the backup is damaged") from None
        except OSError as e:
            raise BackupError(f"cannot read the backup's key room: {e}") from None


# ---- restore -------------------------------------------------------------------------------------------


def _read_manifest(src: Path) -> dict[str, Any]:
    try:
        m = json.loads((src / "backup.json").read_text())
    except (OSError, ValueError) as e:
        raise BackupError(f"{src} is not a mailark backup (no readable backup.json: {e})") from None
    if m.get("format") != FORMAT:
        raise BackupError(f"{src} is a backup of format {m.get('format')!r}; this version restores {FORMAT!r}")
    return m


# A crash between two steps of a restore leaves a journal in the object store (restores/<backup id>.json)
# saying which steps are done; running the same restore again finishes the job. Tests replace this
# hook to crash at each step's end (after the step is durable, before the journal says so).
STEPS = ("objects", "catalogue", "control")


def _after_step(step: str) -> None:
    """Called when a restore step is durable, before the journal records it (a test crashes here)."""


def _backup_id(src: Path) -> str:
    return hashlib.sha256((src / "backup.json").read_bytes() + (src / KEYROOM).read_bytes()[:4096]).hexdigest()[:32]


class _Journal:
    """Which steps of one backup's restore are done, kept in the object store beside what is restored."""

    def __init__(self, rt: Runtime, backup_id: str) -> None:
        self.store, self.name = rt.store, f"restores/{backup_id}.json"

    def load(self) -> list[str] | None:
        if not self.store.exists(self.name):
            return None
        return list(json.loads(self.store.get(self.name))["done"])

    def save(self, done: list[str]) -> None:
        self.store.put(self.name, json.dumps({"done": done, "at": datetime.now(UTC).isoformat()}).encode(), durable=True)

    def remove(self) -> None:
        self.store.delete(self.name)


def restore(rt: Runtime, src: Path, passphrase: bytes) -> BackupSummary:
    """Restore a backup into this deployment: a deployment backup into an empty one, an organization's
    into any deployment that does not have that organization.

    Three steps, each durable before the next: the objects, the catalogue rows (one commit), the
    control plane (one transaction, with the audit event). A restore interrupted between them is
    finished by running it again (the journal names the steps done)."""
    room = KeyRoom(src, passphrase)
    m = room.manifest
    org_id = room.org_id
    if m.get("complete") is False:
        raise BackupError(f"{src} is an incomplete backup ({m.get('not_copied', '?')} objects could not be copied, or its "
                          f"check failed; see `mailark backup verify`): restore a complete backup, or use it with "
                          f"`mailark repair`")
    backup_master = room.master_key
    if backup_master is None and rt.master_key.key_id != m["master_key_id"]:
        raise BackupError(
            f"the backup's organization keys are wrapped by master key {m['master_key_id']}, but this deployment's "
            f"master key is {rt.master_key.key_id}: set MAILARK_MASTER_KEY or MAILARK_MASTER_KEY_FILE to the backup's "
            f"master key (or make backups with --with-master-key)")
    summary = BackupSummary(str(src), "deployment" if org_id is None else org_id,
                            master_key_included=backup_master is not None)
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    for name, _ in room.control:
        if name not in tables:
            raise BackupError(f"the backup has control-plane table {name!r}, which this version does not know: "
                              f"restore with the version that made it")
    orgs = next((rows for name, rows in room.control if name == "organizations"), [])
    org_ids = [o["id"] for o in orgs]
    listing = room.objects
    for obj in listing:
        p = src / "objects" / obj["name"]
        if not p.is_file() or _file_sha256(p) != obj["sha256"]:
            raise BackupError(f"object {obj['name']} of the backup is missing or damaged (SHA-256 differs): nothing restored")

    journal = _Journal(rt, _backup_id(src))
    done = journal.load()
    if done is None:  # a new restore: check everything before anything is written
        with rt.control() as s:
            if org_id is None:
                if s.scalar(select(Organization.id).limit(1)) is not None:
                    raise Conflict("a deployment backup restores only into an empty deployment (this one has organizations); "
                                   "restore single organizations with their own backups instead")
            else:
                for o in orgs:
                    if s.get(Organization, o["id"]) is not None or s.scalar(select(Organization.id).where(Organization.name == o["name"])):
                        raise Conflict(f"organization {o['name']!r} exists here already: delete it first, or restore into another home")
        with catalog_lane(rt.settings, org_id, rt.lake, rt.store):
            for o in orgs:
                if _catalogue_has(rt, [o["id"]]):
                    raise Conflict(f"the catalogue already has mail of organization {o['name']!r}: nothing restored")
        done = []
        journal.save(done)

    # 1. objects first: a catalogue without its objects would be worse than objects without a catalogue
    if "objects" not in done:
        for obj in listing:
            rt.store.put_file(obj["name"], src / "objects" / obj["name"])
        rt.store.flush()
        _after_step("objects")
        done.append("objects")
        journal.save(done)
    summary.objects = len(listing)
    summary.object_bytes = sum(int(o["size"]) for o in listing)

    # 2. catalogue rows, in one commit inside the lane (a commit that happened before a crash is whole)
    with catalog_lane(rt.settings, org_id, rt.lake, rt.store):
        con = rt.lake
        if "catalogue" not in done and not _catalogue_has(rt, org_ids):
            con.execute("BEGIN")
            try:
                for table, piece in room.catalogue():
                    if piece.num_rows:
                        if table not in TABLES:
                            raise BackupError(f"the backup has catalogue table {table!r}, which this version does not know")
                        con.register("_restore_rows", piece)
                        try:
                            con.execute(f"INSERT INTO {ALIAS}.{table} BY NAME SELECT * FROM _restore_rows")
                        finally:
                            con.unregister("_restore_rows")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            _after_step("catalogue")
    if "catalogue" not in done:
        done.append("catalogue")
        journal.save(done)
    summary.catalogue_rows = sum(piece.num_rows for _, piece in room.catalogue())

    # 3. control plane, in one transaction with its audit event
    if "control" not in done:
        with rt.session(write=True) as s:
            if not org_ids or not all(s.get(Organization, i) is not None for i in org_ids):
                for name, rows in room.control:
                    t = tables[name]
                    if name in ("audit_head", "audit_checkpoints"):  # they describe the chain being restored, not this one
                        s.execute(delete(t))
                    decoded = [{k: _dec(v) for k, v in r.items()} for r in rows]
                    if name == "org_keys" and backup_master is not None and backup_master.key_id != rt.master_key.key_id:
                        decoded = [_rewrap(r, backup_master, rt.master_key) for r in decoded]
                    if decoded:
                        s.execute(insert(t), decoded)
                audit.record(s, Principal.deployment_operator(), "backup.restore", org_id=org_id, target=str(src),
                             details={"scope": m["scope"], "organizations": len(orgs), "objects": summary.objects,
                                      "catalogue_rows": summary.catalogue_rows})
        _after_step("control")
    summary.control_rows = sum(len(rows) for _, rows in room.control)
    summary.organizations = len(orgs)
    journal.remove()
    return summary


def _catalogue_has(rt: Runtime, org_ids: list[str]) -> bool:
    """Any catalogue row of these organizations (restore writes them all in one commit)."""
    if not org_ids:
        return False
    marks = ", ".join("?" * len(org_ids))
    return any(rt.lake.execute(f"SELECT 1 FROM {ALIAS}.{t} WHERE org_id IN ({marks}) LIMIT 1", org_ids).fetchone()
               for t in TABLES)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _rewrap(row: dict[str, Any], old: MasterKey, new: MasterKey) -> dict[str, Any]:
    wk = WrappedKey(row["purpose"], row["key_id"], row["wrapped"], row["master_key_id"])
    key = old.unwrap(row["org_id"], wk)
    fresh = new.wrap(row["org_id"], row["purpose"], row["key_id"], key)
    return {**row, "wrapped": fresh.wrapped, "master_key_id": fresh.master_key_id}

