"""What an audit event is, without a database: its scrubbed details, canonical fields and hash.

control.audit appends and verifies events through the ORM; the CLI's quick search
(mailark.cli.search_query) appends its event with sqlite3. Both build the row here, so the chain
is the same whichever wrote it.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
SECRET_KEY = re.compile(r"pass|secret|token|totp|otp|code|hash|key|cookie|session", re.IGNORECASE)
REDACTED = "[redacted]"
READ, SEARCH = "content.read", "content.search"  # the actions of reading content (control.reading)
HASHED = ("seq", "at", "org_id", "actor_kind", "actor_id", "actor_login", "action", "target", "outcome", "details",
          "prev_hash")


def scrub(value: Any) -> Any:
    """Details never hold secrets: keys that look like one are replaced by "[redacted]"."""
    if isinstance(value, dict):
        return {str(k): REDACTED if SECRET_KEY.search(str(k)) else scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of an event's fields (prev_hash included, hash excluded)."""
    return hashlib.sha256(canonical_json(fields).encode()).hexdigest()


def new_event(seq: int, prev_hash: str, actor: tuple[str, str, str], action: str, *, org_id: str | None,
              target: str, outcome: str, details: dict[str, Any] | None, now: datetime | None) -> dict[str, Any]:
    """The row of the event that follows `prev_hash` at `seq`, its hash included.

    `actor` is (kind, id, login)."""
    row: dict[str, Any] = {
        "seq": seq,
        "at": (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds"),
        "org_id": org_id,
        "actor_kind": actor[0],
        "actor_id": actor[1],
        "actor_login": actor[2],
        "action": action,
        "target": target[:400],
        "outcome": outcome,
        "details": canonical_json(scrub(details or {})),
        "prev_hash": prev_hash,
    }
    row["hash"] = event_hash(row)
    return row
