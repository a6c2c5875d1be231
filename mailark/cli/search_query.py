"""`mailark search query` in a blink: the quick path, without Typer, SQLAlchemy or the ORM models.

Issue 16 asks for a CLI search under 0.5 s. Importing Typer, SQLAlchemy's ORM and the control
plane's mapped models took 0.6 s of the 0.9 s it cost; the search itself takes milliseconds. The
deployment operator's search needs four statements on the control plane (the organization, its
mailboxes, an address for `from:`/`to:`, the audit append), so this module runs them itself, with
sqlite3 on the embedded control plane and psycopg on PostgreSQL, and the search with the same code as
every other path.

Whatever the quick path does not handle in full it hands to the Typer command (mailark.cli.search),
which then answers exactly as always: `--help`, an option it does not know or a usage error, a
database URL it does not know, a schema that needs upgrading, a shared search index (search.shared),
and every refusal (an unknown organization, a malformed query). It hands over only before its
transaction commits, so a search is audited once, by whichever path answered it.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from mailark.catalog.search.searcher import SearchPage
    from mailark.control.actors import Principal

_SQLITE = "sqlite:///"
_POSTGRES = ("postgresql+psycopg://", "postgresql://", "postgres://")
_VALUED = {"--org": "org", "--page": "page", "--per-page": "per_page", "--sort": "sort"}


@dataclass(frozen=True)
class QueryArgs:
    org: str
    text: str
    page: int = 1
    per_page: int = 25
    sort: str = "newest"
    as_json: bool = False


def parse_quick(argv: list[str]) -> QueryArgs | None:
    """The arguments after `search query` when they are plain (Click would read them the same way);
    None for anything else, which Typer then reads and, if need be, refuses in its own words."""
    values: dict[str, str] = {}
    texts: list[str] = []
    as_json, only_args, i = False, False, 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if only_args or a == "-" or not a.startswith("-"):
            texts.append(a)
        elif a == "--":
            only_args = True
        elif a == "--json":
            as_json = True
        else:
            name, eq, value = a.partition("=")
            if name not in _VALUED:
                return None
            if not eq:
                if i >= len(argv):
                    return None
                value, i = argv[i], i + 1
            values[_VALUED[name]] = value  # repeated: the last one wins, as in Click
    if len(texts) != 1 or "org" not in values:
        return None
    numbers = {k: values.pop(k) for k in ("page", "per_page") if k in values}
    if not all(v.isascii() and v.isdigit() for v in numbers.values()):
        return None
    return QueryArgs(text=texts[0], as_json=as_json, **values, **{k: int(v) for k, v in numbers.items()})


def page_doc(result: SearchPage) -> dict[str, Any]:
    """What `--json` prints (docs/integrators.md)."""
    return {"total": result.total, "page": result.page, "ready": result.ready, "hits": [asdict(h) for h in result.hits]}


def show_page(result: SearchPage, console: Console) -> None:
    if not result.ready:
        console.print("no index yet: run `mailark search index --org ORG` (or wait for the index-mail flow)")
    console.print(f"{result.total} matches", highlight=False)
    for h in result.hits:
        console.print(f"{h.date:%Y-%m-%d} {h.item_id} {h.mailbox}/{h.folder}  {h.sender}  {h.subject}", highlight=False)


def run_quick(args: QueryArgs) -> bool:
    """Search and print; False (nothing printed, nothing written) hands the command to Typer."""
    try:
        result = _search(args)
    except Exception:  # noqa: BLE001 - the full command runs it again and explains what went wrong
        return False
    if result is None:
        return False
    if args.as_json:
        from mailark.cli.json_output import print_json

        print_json(page_doc(result))
    else:
        from rich.console import Console

        show_page(result, Console())
    return True


class _ControlPlane:
    """The quick path's few statements on either control plane: sqlite3 (the embedded default) or
    psycopg (PostgreSQL), written once with `?` placeholders."""

    def __init__(self, con: Any, *, sqlite: bool) -> None:
        self.con, self.sqlite = con, sqlite

    @classmethod
    def open(cls, url: str) -> _ControlPlane | None:
        """A connection like control.db's engine makes; None for a URL the quick path leaves to SQLAlchemy."""
        if url.startswith(_SQLITE) and "?" not in url:
            path = url[len(_SQLITE):]
            if not os.path.isfile(path):
                return None  # a new home: the full command creates the schema
            con = sqlite3.connect(path, timeout=30, isolation_level=None)
            for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000"):  # as control.db's engine
                con.execute(f"PRAGMA {pragma}")
            return cls(con, sqlite=True)
        for prefix in _POSTGRES:  # control.db.normalize_url: these use psycopg 3, whose URIs are libpq's
            if url.startswith(prefix):
                import psycopg

                return cls(psycopg.connect("postgresql://" + url[len(prefix):]), sqlite=False)
        return None

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cur = self.con.execute(sql if self.sqlite else sql.replace("?", "%s"), params)
        return cur.fetchall() if cur.description else []

    def begin(self) -> None:
        if self.sqlite:  # as the command's write session: the audit append takes the lock at BEGIN
            self.con.execute("BEGIN IMMEDIATE")  # (psycopg begins a transaction at the first statement)

    def end(self, commit: bool) -> None:
        if self.sqlite:
            if self.con.in_transaction:
                self.con.execute("COMMIT" if commit else "ROLLBACK")
        else:
            (self.con.commit if commit else self.con.rollback)()

    def close(self) -> None:
        self.con.close()


def _search(args: QueryArgs) -> SearchPage | None:
    from mailark.config.settings import get_settings

    settings = get_settings()
    if settings.search.shared:
        return None
    settings.ensure_dirs()
    db = _ControlPlane.open(settings.resolved_control_url)
    if db is None:
        return None
    try:
        if not _schema_is_current(db):
            return None
        db.begin()
        try:
            result = _search_in(db, settings.db_dir, args)
        except BaseException:
            db.end(commit=False)
            raise
        db.end(commit=result is not None)
        return result
    finally:
        db.close()


def _schema_is_current(db: _ControlPlane) -> bool:
    from mailark.control.revisions import plain_head

    head = plain_head()
    try:
        found = db.rows("SELECT version_num FROM alembic_version")
    finally:
        db.end(commit=False)  # PostgreSQL: a failed statement would abort the transaction the search needs
    return head is not None and found == [(head,)]


def _search_in(db: _ControlPlane, db_dir: Path, args: QueryArgs) -> SearchPage | None:
    """control.reading's `readable` and `record_search` for the deployment operator, who reads every
    mailbox of every organization, in SQL."""
    from mailark.catalog.search.searcher import search
    from mailark.control.actors import Principal

    found = db.rows("SELECT id FROM organizations WHERE name = ?", (args.org,))
    if not found:
        return None  # the full command says there is no such organization
    org_id: str = found[0][0]
    allowed = {r[0] for r in db.rows("SELECT id FROM mailboxes WHERE org_id = ?", (org_id,))}

    def resolve(address: str) -> set[str]:
        # Stored addresses are normalized (control.orgs.normalize_address); one that is not valid is not there.
        return {r[0] for r in db.rows("SELECT mailbox_id FROM mailbox_addresses WHERE org_id = ? AND address = ?",
                                      (org_id, address.strip().lower()))}

    result = search(db_dir, org_id, args.text, allowed, page=args.page, per_page=args.per_page, sort=args.sort,
                    resolve_mailbox=resolve, every_mailbox=True)
    _append_search_event(db, Principal.deployment_operator(), org_id, args.text, result.total)
    return result


def _append_search_event(db: _ControlPlane, actor: Principal, org_id: str, text: str, total: int) -> None:
    """control.audit.record of control.reading.record_search, in plain SQL (the same row and hash)."""
    from mailark.control.audit_events import HASHED, SEARCH, new_event

    [(seq, prev)] = db.rows("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
    row = new_event(seq, prev, (actor.kind, actor.id, actor.login), SEARCH, org_id=org_id, target=text[:200],
                    outcome="ok", details={"total": total}, now=None)
    columns = (*HASHED, "hash")
    db.rows(f"INSERT INTO audit_events ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            tuple(row[c] for c in columns))
    db.rows("UPDATE audit_head SET hash = ? WHERE id = 1", (row["hash"],))
