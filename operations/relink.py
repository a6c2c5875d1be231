"""Re-link: mail already archived for an address appears in the mailbox that has the address now.

A journal drain links a message to every archive mailbox among its sender and recipients *as they
are at that moment*; an alias (or a mailbox) added later finds its earlier mail only in the journal
mailbox. This job adds, for each such message, one copy to the mailbox: catalogue rows only (the
copy points to the message, skeleton, delta and parts already stored, so nothing new is stored:
single instance), in the folder of the journal copy, with source "relink". It looks at copies in the
organization's journal mailboxes whose catalogued addresses (From, To, Cc, Bcc of the original)
name one of the mailbox's addresses; recipients that only a journal report's envelope named (an
expanded group, a Bcc the header does not show) are not in the catalogue and cannot be re-linked.

Idempotent: a message the mailbox already holds (by any copy) is skipped, so running it twice adds
nothing. Each run leaves a ledger row (source "relink") and an audit event with the count.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
from sqlalchemy import select
from ulid import ULID

from mailark.catalog.lake import ALIAS
from mailark.control import audit
from mailark.control.models import Mailbox, MailboxAddress
from mailark.control.orgs import NotFound, find_mailbox
from mailark.control.principals import Principal
from mailark.runtime import Runtime

log = logging.getLogger(__name__)
SOURCE = "relink"


@dataclass(frozen=True)
class RelinkResult:
    org: str
    mailbox: str
    addresses: list[str]
    linked: int
    already: int

    def as_dict(self) -> dict[str, object]:
        return {"org": self.org, "mailbox": self.mailbox, "addresses": self.addresses, "linked": self.linked,
                "already": self.already}


def relink_mailbox(rt: Runtime, org_name: str, address: str, principal: Principal | None = None) -> RelinkResult:
    """Add to the mailbox found by `address` a copy of every journalled message that names one of its
    addresses and that it does not hold yet; returns how many were added."""
    principal = principal or Principal.deployment_operator()
    org = rt.org(org_name)
    with rt.session() as s:
        mb = find_mailbox(s, org, address)
        if mb is None:
            raise NotFound(f"organization {org.name!r} has no archive mailbox {address!r}: nothing to re-link")
        mailbox_id, primary, kind, retired = mb.id, mb.primary_address, mb.kind, mb.retired_at is not None
        addresses = sorted(s.scalars(select(MailboxAddress.address).where(MailboxAddress.mailbox_id == mb.id)))
        journals = sorted(s.scalars(select(Mailbox.id).where(Mailbox.org_id == org.id, Mailbox.kind == "journal",
                                                             Mailbox.id != mb.id)))
    if kind == "journal" or retired or not journals:  # a retired mailbox takes no new mail, re-linked or not
        return RelinkResult(org.name, primary, addresses, 0, 0)
    archive = rt.archive_for(org)
    con = archive.lake
    started = datetime.now(UTC)
    with archive.lane():
        con.register("_relink_addr", pa.table({"a": addresses}))
        con.register("_relink_journals", pa.table({"j": journals}))
        try:
            rows = con.execute(
                f"""
                WITH named AS (
                    SELECT i.item_id, i.folder, i.message_key, i.copy_sha256, i.size, i.delta_ref, i.bcc_addrs
                    FROM {ALIAS}.mailbox_items i JOIN {ALIAS}.messages m
                      ON m.org_id = i.org_id AND m.message_key = i.message_key
                    WHERE i.org_id = ? AND i.mailbox_id IN (SELECT j FROM _relink_journals)
                      AND list_has_any(
                          list_concat([m.from_addr], coalesce(m.to_addrs, []), coalesce(m.cc_addrs, []),
                                      coalesce(i.bcc_addrs, [])),
                          (SELECT list(a) FROM _relink_addr))
                ), have AS (
                    SELECT DISTINCT message_key FROM {ALIAS}.mailbox_items WHERE org_id = ? AND mailbox_id = ?
                )
                SELECT arg_min(item_id, item_id), arg_min(folder, item_id), message_key, arg_min(copy_sha256, item_id),
                       arg_min(size, item_id), arg_min(delta_ref, item_id), arg_min(bcc_addrs, item_id),
                       message_key IN (SELECT message_key FROM have)
                FROM named GROUP BY message_key ORDER BY message_key
                """, [archive.org_id, archive.org_id, mailbox_id]).fetchall()
        finally:
            con.unregister("_relink_addr")
            con.unregister("_relink_journals")
        already = sum(1 for r in rows if r[7])
        new = [r for r in rows if not r[7]]
        now = datetime.now(UTC)
        batch_id = str(ULID()).lower()
        items = [dict(org_id=archive.org_id, item_id=str(ULID()).lower(), mailbox_id=mailbox_id, mailbox=primary,
                      folder=r[1], message_key=r[2], copy_sha256=r[3], size=r[4], delta_ref=r[5], bcc_addrs=r[6],
                      source=SOURCE, source_position=r[0], batch_id=batch_id, archived_at=now) for r in new]
        ledger = dict(org_id=archive.org_id, run_id=batch_id, batch_id=batch_id, source=SOURCE, mailbox=primary,
                      seen=len(rows), archived=len(new), duplicates=already, quarantined=0, deferred=0,
                      reasons=json.dumps({}), started_at=started, finished_at=now)
        con.execute("BEGIN")
        try:
            if items:
                _insert(con, "mailbox_items", items)
            _insert(con, "ingest_ledger", [ledger])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    result = RelinkResult(org.name, primary, addresses, len(new), already)
    with rt.session(write=True) as s:
        audit.record(s, principal, "mailbox.relink", org_id=org.id, target=primary,
                     details={"linked": len(new), "already": already, "addresses": addresses})
    return result


def _insert(con, table: str, rows: list[dict[str, object]]) -> None:  # type: ignore[no-untyped-def]
    con.register("_relink_rows", pa.Table.from_pylist(rows))
    try:
        con.execute(f"INSERT INTO {ALIAS}.{table} BY NAME SELECT * FROM _relink_rows")
    finally:
        con.unregister("_relink_rows")


def start_flow(rt: Runtime, org_name: str, address: str) -> bool:
    """Start a run of the `relink-alias` deployment if a Prefect server is up and has it; False otherwise."""
    from mailark.operations.prefect_server import is_up

    if not is_up(rt.settings.prefect_api_url):
        return False
    try:
        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: rt.settings.prefect_api_url}):
            run_deployment("relink-alias/relink-alias", parameters={"org": org_name, "address": address}, timeout=0)
        return True
    except Exception as e:  # noqa: BLE001 - no deployment registered: the caller runs it here instead
        log.info("relink %s/%s: the relink-alias deployment is not available (%s)", org_name, address, e)
        return False


def launch_relink(rt: Runtime, org_name: str, address: str) -> str:
    """Start the job: as the `relink-alias` deployment when a Prefect server is up, else in a thread here
    (with its own runtime). Returns "prefect" or "thread"."""
    if start_flow(rt, org_name, address):
        return "prefect"

    def work() -> None:
        from mailark.runtime import open_runtime

        own = open_runtime(rt.settings)
        try:
            r = relink_mailbox(own, org_name, address)
            log.info("relink %s/%s: %d message(s) linked", org_name, address, r.linked)
        except Exception as e:  # noqa: BLE001 - a background job reports, it does not raise into nothing
            log.warning("relink %s/%s failed: %s; run `mailark mailbox relink %s --org %s`", org_name, address, e,
                        address, org_name)
        finally:
            own.close()

    threading.Thread(target=work, name=f"relink-{org_name}-{address}", daemon=True).start()
    return "thread"
