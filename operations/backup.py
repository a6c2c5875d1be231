"""Backup and restore of one organization or the whole deployment: control plane, catalogue, objects.

A backup is a directory:

    backup.json        what it is (format, scope, when, key-derivation salt): no secrets, no names
    keyroom.sealed     the key-room part, encrypted: control-plane rows (wrapped keys included),
                       catalogue rows (Parquet pieces), the list of objects with their SHA-256, and
                       with --with-master-key the master key itself
    objects/<name>     the object store's objects, copied as they are (already ciphertext)

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
    master_key_included: bool = False
    skipped_objects: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return self.__dict__.copy()


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


def backup(rt: Runtime, dest: Path, passphrase: bytes, *, org_name: str | None = None,
           with_master_key: bool = False) -> BackupSummary:
    """Write a backup of the deployment (or of one organization) into the new directory `dest`."""
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: back up into a new directory")
    org_id = rt.org(org_name).id if org_name else None
    dest.mkdir(parents=True, exist_ok=True)
    salt = os.urandom(16)
    sealer = _derive(passphrase, salt, SCRYPT)
    summary = BackupSummary(str(dest), org_name or "deployment", master_key_included=with_master_key)
    with (dest / KEYROOM).open("wb") as f:
        w = SealedStreamWriter(sealer, KEYROOM, f)
        with rt.control() as s:
            for t, rows in _control_rows(s, org_id):
                _entry(w, {"kind": "control", "table": t.name}, json.dumps([{k: _enc(v) for k, v in r.items()} for r in rows]).encode())
                summary.control_rows += len(rows)
                if t.name == "organizations":
                    summary.organizations = len(rows)
        # One consistent catalogue state: no batch commits while it is read.
        with catalog_lane(rt.settings, org_id, rt.lake, rt.store):
            for table in TABLES:
                where, params = ("WHERE org_id = ?", [org_id]) if org_id else ("", [])
                reader = rt.lake.execute(f"SELECT * FROM {ALIAS}.{table} {where}", params).to_arrow_reader(ROWS_PER_PIECE)
                for batch in reader:
                    buf = io.BytesIO()
                    pq.write_table(pa.Table.from_batches([batch]), buf)
                    _entry(w, {"kind": "catalogue", "table": table}, buf.getvalue())
                    summary.catalogue_rows += batch.num_rows
        listing = []
        for info in rt.store.list(f"orgs/{org_id}/" if org_id else "orgs/"):
            path = dest / "objects" / info.name
            path.parent.mkdir(parents=True, exist_ok=True)
            h = hashlib.sha256()
            try:
                with path.open("wb") as o:
                    for chunk in rt.store.iter_chunks(info.name):
                        h.update(chunk)
                        o.write(chunk)
            except ControlError:
                raise
            except Exception:  # noqa: BLE001 - deleted since it was listed (an expired export)
                path.unlink(missing_ok=True)
                summary.skipped_objects.append(info.name)
                continue
            listing.append({"name": info.name, "size": path.stat().st_size, "sha256": h.hexdigest()})
            summary.objects += 1
            summary.object_bytes += path.stat().st_size
        _entry(w, {"kind": "objects"}, json.dumps(listing).encode())
        if with_master_key:
            _entry(w, {"kind": "master_key", "key_id": rt.master_key.key_id}, rt.master_key.key)
        w.finish()
        f.flush()
        os.fsync(f.fileno())
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "scope": "organization" if org_id else "deployment",
                "org_id": org_id, "master_key_id": rt.master_key.key_id, "master_key_included": with_master_key,
                "kdf": {"name": "scrypt", "salt": salt.hex(), **SCRYPT}}
    (dest / "backup.json").write_text(json.dumps(manifest, indent=2) + "\n")
    with rt.session(write=True) as s:
        audit.record(s, Principal.deployment_operator(), "backup.create", org_id=org_id, target=str(dest),
                     details={k: v for k, v in summary.as_dict().items() if k != "skipped_objects"})
    return summary


# ---- restore -------------------------------------------------------------------------------------------


def _read_manifest(src: Path) -> dict[str, Any]:
    try:
        m = json.loads((src / "backup.json").read_text())
    except (OSError, ValueError) as e:
        raise BackupError(f"{src} is not a mailark backup (no readable backup.json: {e})") from None
    if m.get("format") != FORMAT:
        raise BackupError(f"{src} is a backup of format {m.get('format')!r}; this version restores {FORMAT!r}")
    return m


def restore(rt: Runtime, src: Path, passphrase: bytes) -> BackupSummary:
    """Restore a backup into this deployment: a deployment backup into an empty one, an organization's
    into any deployment that does not have that organization."""
    m = _read_manifest(src)
    org_id = m.get("org_id")
    kdf = m["kdf"]
    sealer = _derive(passphrase, bytes.fromhex(kdf["salt"]), {k: kdf[k] for k in ("n", "r", "p")})
    path = src / KEYROOM

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk

    def entries(*, catalogue: bool) -> Iterator[tuple[dict[str, Any], bytes]]:
        """The key room's entries; the catalogue's (the bulk) only when asked, so memory stays bounded."""
        try:
            for h, body in _entries(open_sealed_stream(sealer, KEYROOM, chunks())):
                if (h["kind"] == "catalogue") == catalogue:
                    yield h, body
        except IntegrityError:
            raise BackupError("cannot open the backup's key room: wrong passphrase, or the backup is damaged") from None

    # First pass: everything but the catalogue rows (and a full authentication of the key room).
    small = list(entries(catalogue=False))
    for _ in entries(catalogue=True):
        pass
    master_entry = next((e for e in small if e[0]["kind"] == "master_key"), None)
    backup_master = MasterKey(master_entry[1]) if master_entry else None
    if backup_master is None and rt.master_key.key_id != m["master_key_id"]:
        raise BackupError(
            f"the backup's organization keys are wrapped by master key {m['master_key_id']}, but this deployment's "
            f"master key is {rt.master_key.key_id}: set MAILARK_MASTER_KEY or MAILARK_MASTER_KEY_FILE to the backup's "
            f"master key (or make backups with --with-master-key)")
    summary = BackupSummary(str(src), "deployment" if org_id is None else org_id,
                            master_key_included=backup_master is not None)
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    control = [(h["table"], json.loads(b)) for h, b in small if h["kind"] == "control"]
    orgs = next((rows for name, rows in control if name == "organizations"), [])

    # 1. objects first: a catalogue without its objects would be worse than objects without a catalogue
    listing = json.loads(next(b for h, b in small if h["kind"] == "objects"))
    for obj in listing:
        p = src / "objects" / obj["name"]
        if not p.is_file() or _file_sha256(p) != obj["sha256"]:
            raise BackupError(f"object {obj['name']} of the backup is missing or damaged (SHA-256 differs): nothing restored")
    # 2. control plane, in one transaction (checked before anything is written)
    with rt.session(write=True) as s:
        if org_id is None:
            if s.scalar(select(Organization.id).limit(1)) is not None:
                raise Conflict("a deployment backup restores only into an empty deployment (this one has organizations); "
                               "restore single organizations with their own backups instead")
        else:
            for o in orgs:
                if s.get(Organization, o["id"]) is not None or s.scalar(select(Organization.id).where(Organization.name == o["name"])):
                    raise Conflict(f"organization {o['name']!r} exists here already: delete it first, or restore into another home")
        for name, rows in control:
            t = tables.get(name)
            if t is None:
                raise BackupError(f"the backup has control-plane table {name!r}, which this version does not know: "
                                  f"restore with the version that made it")
            if name in ("audit_head", "audit_checkpoints"):  # they describe the chain being restored, not this one
                s.execute(delete(t))
            decoded = [{k: _dec(v) for k, v in r.items()} for r in rows]
            if name == "org_keys" and backup_master is not None and backup_master.key_id != rt.master_key.key_id:
                decoded = [_rewrap(r, backup_master, rt.master_key) for r in decoded]
            if decoded:
                s.execute(insert(t), decoded)
            summary.control_rows += len(decoded)
        summary.organizations = len(orgs)
        # 3. catalogue rows, in one commit inside the lane
        with catalog_lane(rt.settings, org_id, rt.lake, rt.store):
            con = rt.lake
            for o in orgs:
                if con.execute(f"SELECT count(*) FROM {ALIAS}.mailbox_items WHERE org_id = ?", [o["id"]]).fetchone()[0]:
                    raise Conflict(f"the catalogue already has mail of organization {o['name']!r}: nothing restored")
            con.execute("BEGIN")
            try:
                for h, body in entries(catalogue=True):
                    piece = pq.read_table(io.BytesIO(body))
                    if piece.num_rows:
                        if h["table"] not in TABLES:
                            raise BackupError(f"the backup has catalogue table {h['table']!r}, which this version does not know")
                        con.register("_restore_rows", piece)
                        try:
                            con.execute(f"INSERT INTO {ALIAS}.{h['table']} BY NAME SELECT * FROM _restore_rows")
                        finally:
                            con.unregister("_restore_rows")
                        summary.catalogue_rows += piece.num_rows
                for obj in listing:
                    rt.store.put_file(obj["name"], src / "objects" / obj["name"])
                    summary.objects += 1
                    summary.object_bytes += obj["size"]
                rt.store.flush()
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        audit.record(s, Principal.deployment_operator(), "backup.restore", org_id=org_id, target=str(src),
                     details={"scope": m["scope"], "organizations": len(orgs), "objects": summary.objects,
                              "catalogue_rows": summary.catalogue_rows})
    return summary


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

