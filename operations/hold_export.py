"""Export of a legal hold for e-discovery: the held copies as byte-exact .eml files with
`manifest.csv` (catalog.export's writer), plus a chain-of-custody sheet `CUSTODY.txt` inside the zip.

The sheet says what was exported (case, reason, the hold's mailboxes or query), when (UTC), by whom,
how many copies, and the SHA-256 of every other file in the zip, so counsel can prove nothing was
changed after export. A zip cannot carry its own hash: the SHA-256 of the finished zip goes into
the audit event (`hold.export`), the returned document and a sidecar `FILE.zip.sha256`
(`sha256sum -c` format).

The selection is the hold's as it stands now: a mailbox hold exports those mailboxes (quarantined
items too), a query hold exactly the copies its query matches on an index that first catches up
with the catalogue (operations.holds.query_hits), so mail that arrived after the hold is in it.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailark.catalog.export import Selection, write_zip
from mailark.control import audit
from mailark.control.orgs import NotFound
from mailark.control.principals import Principal
from mailark.control.retention import all_holds, describe_hold, hold_rule_of, require_compliance
from mailark.operations.holds import query_hits
from mailark.runtime import Runtime

CUSTODY = "CUSTODY.txt"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _member_hashes(path: Path) -> list[tuple[str, int, str]]:
    """(name, size, SHA-256) of every file in the zip, in the zip's order."""
    out = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            h = hashlib.sha256()
            with zf.open(info) as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            out.append((info.filename, info.file_size, h.hexdigest()))
    return out


def custody_sheet(doc: dict[str, Any], files: list[tuple[str, int, str]]) -> str:
    """The chain-of-custody sheet as plain text (CRLF lines, like manifest.csv)."""
    sel = doc["selection"]
    lines = [
        "CHAIN OF CUSTODY - mailark legal hold export",
        f"organization: {doc['org']}",
        f"case: {doc['case']}",
        f"hold reason: {doc['reason']}",
        f"hold placed: {doc['placed_at']} by {doc['placed_by']}",
        f"exported by: {doc['exported_by']}",
        f"exported at (UTC): {doc['exported_at']}",
        f"selection: mailboxes {', '.join(sel['mailboxes']) or '-'}; query {sel['query'] or '-'}",
        f"messages: {doc['messages']}; quarantined items: {doc['quarantined']}; damaged (not included): {doc['damaged']}",
        f"bytes of mail: {doc['bytes']}",
        "",
        "SHA-256 of every other file in this zip (sha256  size  path). The SHA-256 of the zip itself",
        "cannot be inside it: it is in the sidecar file <zip>.sha256 and in the audit event hold.export.",
        "",
    ]
    lines += [f"{sha}  {size}  {name}" for name, size, sha in files]
    return "\r\n".join(lines) + "\r\n"


def _iso(d: Any) -> Any:
    return d.astimezone(UTC).isoformat() if isinstance(d, datetime) and d.tzinfo else (
        d.replace(tzinfo=UTC).isoformat() if isinstance(d, datetime) else d)


def export_hold(rt: Runtime, principal: Principal, org_name: str, case: str, out: Path, *,
                now: datetime | None = None) -> dict[str, Any]:
    """Write the case's held copies to `out` (a zip, via a temporary file renamed at the end) and the
    sidecar `out.sha256`; audit it. Compliance only. Returns the custody document with every hash."""
    out = Path(out)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with rt.session() as s:  # read: the control plane's write lock is not held while the zip is written
        o = require_compliance(s, principal, org_name, "exporting a legal hold")
        org_id, org_label = o.id, o.name
        holds = all_holds(s, o)
        h = next((h for h in holds if h.case_name == case and h.released_at is None), None)
        h = h or next((h for h in reversed(holds) if h.case_name == case), None)
        if h is None:
            raise NotFound(f"organization {o.name!r} has no hold for case {case!r} (see mailark hold list --released)")
        d = describe_hold(s, h)
        archive = rt.archive_for(o)
        if h.query:
            hits = query_hits(rt.settings, s, o, archive, [h.query])
            sel = Selection(item_ids=tuple(sorted(hits.get(h.query, ()))))
        else:
            sel = Selection(mailbox_ids=tuple(sorted(hold_rule_of(h).mailbox_ids)))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    try:
        with tmp.open("wb") as f:
            res = write_zip(archive, sel, f)
        doc: dict[str, Any] = {
            "org": org_label, "case": case, "reason": d["reason"], "active": d["active"],
            "placed_at": _iso(d["placed_at"]), "placed_by": d["placed_by"],
            "exported_by": principal.login, "exported_at": now.isoformat(),
            "selection": {"mailboxes": d["mailboxes"], "query": d["query"]},
            "messages": res.messages, "quarantined": res.quarantined, "damaged": res.damaged, "bytes": res.bytes,
        }
        files = _member_hashes(tmp)
        sheet = custody_sheet(doc, files)
        with zipfile.ZipFile(tmp, "a", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(CUSTODY, sheet)
        zip_sha = _sha256_file(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    sidecar = out.with_name(out.name + ".sha256")
    sidecar.write_text(f"{zip_sha}  {out.name}\n")
    doc.update(path=str(out), zip_sha256=zip_sha, zip_bytes=out.stat().st_size, sidecar=str(sidecar),
               files=[{"path": n, "size": z, "sha256": x} for n, z, x in files],
               custody_sha256=hashlib.sha256(sheet.encode()).hexdigest())
    with rt.session(write=True) as s:
        audit.record(s, principal, "hold.export", org_id=org_id, target=case, details={
            k: doc[k] for k in ("case", "selection", "messages", "quarantined", "damaged", "bytes", "exported_at",
                                "zip_sha256", "zip_bytes", "custody_sha256")} | {"file": out.name})
    return doc
