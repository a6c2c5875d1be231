"""Legal holds at deletion time: which copies a hold covers, and the refusal every deletion path
(compliance deletion in the API and the CLI, retention) goes through.

A hold stores its mailboxes or its query, not a list of copies: it is evaluated whenever something
is about to be deleted, against the index brought up to the catalogue's current snapshot first.
So mail that arrives after the hold was placed and matches its query is held from the moment it is
in the catalogue, exactly as if it had been held on arrival (nothing can delete it in between:
every deletion asks here first). Quarantined items are not in the index: only mailbox holds cover
them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlalchemy.orm import Session

from mailark.catalog.archive import OrgArchive
from mailark.catalog.search.indexer import IndexOptions, sync_index
from mailark.catalog.search.query import QueryError, compile_query
from mailark.catalog.search.searcher import matching_item_ids
from mailark.control.models import Organization
from mailark.control.orgs import Conflict, ControlError
from mailark.control.retention import HoldRule, active_holds, hold_rule_of
from mailark.config.settings import Settings
from mailark.operations.searching import mailbox_resolver

EVERYTHING = 10**12  # a hold or a policy is not a page of results: no cap


class HeldCopies(Conflict):
    """A deletion would remove copies under legal hold."""


class Located(Protocol):
    item_id: str
    mailbox_id: str


def check_query(text: str) -> None:
    """Refuse a query the search syntax cannot read, before it is saved in a policy or a hold."""
    try:
        compile_query(text, set())
    except QueryError as e:
        raise ControlError(f"the search query cannot be read: {e}") from None


def query_hits(settings: Settings, session: Session, org: Organization, archive: OrgArchive,
               queries: Iterable[str | None]) -> dict[str, set[str]]:
    """Item ids each distinct query matches over the whole organization, on an index that first
    catches up with the catalogue (so nothing archived a moment ago escapes a query hold)."""
    wanted = sorted({q for q in queries if q})
    if not wanted:
        return {}
    sync_index(archive, settings.db_dir, IndexOptions.from_settings(settings.search))
    resolve = mailbox_resolver(session, org)
    out: dict[str, set[str]] = {}
    for q in wanted:
        try:
            out[q] = set(matching_item_ids(settings.db_dir, org.id, q, set(), limit=EVERYTHING,
                                           resolve_mailbox=resolve, every_mailbox=True))
        except QueryError as e:
            raise ControlError(f"the search query {q!r} cannot be read: {e}") from None
    return out


def hold_rules(session: Session, org: Organization) -> list[HoldRule]:
    return [hold_rule_of(h) for h in active_holds(session, org.id)]


def held_cases(settings: Settings, session: Session, org: Organization, archive: OrgArchive,
               copies: Iterable[Located]) -> dict[str, tuple[str, ...]]:
    """item id -> the cases holding it, for those of `copies` that an active hold covers."""
    holds = hold_rules(session, org)
    if not holds:
        return {}
    hits = query_hits(settings, session, org, archive, [h.query for h in holds])
    out: dict[str, tuple[str, ...]] = {}
    for c in copies:
        cases = tuple(sorted({h.case for h in holds if h.covers(c, hits)}))  # type: ignore[arg-type]
        if cases:
            out[c.item_id] = cases
    return out


def refuse_held(settings: Settings, session: Session, org: Organization, archive: OrgArchive,
                copies: list[Located]) -> None:
    """HeldCopies naming the case(s) if any of these copies is under legal hold."""
    held = held_cases(settings, session, org, archive, copies)
    if held:
        cases = sorted({c for v in held.values() for c in v})
        named = ", ".join(repr(c) for c in cases)
        raise HeldCopies(f"{len(held)} of these {len(copies)} archived copies are under legal hold (case {named}): "
                         f"nothing was deleted; they can be deleted once every hold covering them is released "
                         f"(mailark hold release CASE --org {org.name} --reason ...)")
