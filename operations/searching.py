"""Search on behalf of a principal: the glue between the control plane's rules (who reads which
mailboxes, which address names which mailbox) and the index (catalog.search), for the API, the
CLI and search exports alike."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from mailark.catalog.search.query import QueryError
from mailark.catalog.search.searcher import matching_item_ids
from mailark.control.models import Organization
from mailark.control.orgs import ControlError, find_mailbox
from mailark.control.principals import Principal
from mailark.control.reading import readable, reads_every_mailbox
from mailark.config.settings import Settings


def mailbox_resolver(session: Session, org: Organization) -> Callable[[str], set[str]]:
    """`mailbox:` takes any address of a mailbox (aliases too); an unknown one matches nothing."""

    def resolve(address: str) -> set[str]:
        try:
            mb = find_mailbox(session, org, address)
        except ControlError:
            return set()
        return {mb.id} if mb is not None else set()

    return resolve


def matching_copies(session: Session, principal: Principal, org: Organization | str, settings: Settings,
                    query: str) -> list[str]:
    """Item ids of every copy the query matches among the mailboxes the principal may read."""
    o, allowed = readable(session, principal, org)
    try:
        return matching_item_ids(settings.db_dir, o.id, query, allowed, resolve_mailbox=mailbox_resolver(session, o),
                                 every_mailbox=reads_every_mailbox(session, principal, o))
    except QueryError as e:
        raise ControlError(f"the search query cannot be read: {e}") from None
