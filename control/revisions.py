"""The newest schema revision, read from the migration files without Alembic or SQLAlchemy.

Every process checks that the control plane is at the newest revision before it uses it
(control.db.migrate); the CLI's quick search (mailark.cli.search_query) checks it with sqlite3.
"""

from __future__ import annotations

import re
from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"^revision\s*=\s*[\"']([^\"']+)[\"']\s*$", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(None|[\"']([^\"']+)[\"'])\s*$", re.MULTILINE)


def plain_head() -> str | None:
    """The newest migration, read from the version files' `revision`/`down_revision` lines without
    Alembic; None when they do not make one plain chain (then Alembic decides)."""
    revisions: dict[str, str | None] = {}
    for f in (MIGRATIONS / "versions").glob("*.py"):
        if f.name == "__init__.py":
            continue
        body = f.read_text(encoding="utf-8")
        rev, down = _REVISION.findall(body), _DOWN_REVISION.findall(body)
        if len(rev) != 1 or len(down) != 1 or rev[0] in revisions:
            return None
        revisions[rev[0]] = down[0][1] or None
    parents = set(revisions.values())
    heads = [r for r in revisions if r not in parents]
    return heads[0] if len(heads) == 1 and sum(d is None for d in revisions.values()) == 1 else None
