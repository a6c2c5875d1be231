"""Restore to mailbox: put copies of archived mail back into a live mailbox, through its source.

The plain code the API, the message page and `mailark restore-mail` run. Who may do what:

- a Reader restores mail of the archive mailboxes they may read into *their own* mailbox (the
  archive mailbox they own) and nowhere else;
- Compliance (and the deployment operator, the CLI on the server) restores any mailbox's mail into
  a mailbox they name;
- MSP operator accounts hold no content right (control.support): they may not restore at all.
What a principal may not read does not exist for them (NotFound), as everywhere else.

The mail goes back through the source that archives the target mailbox: an IMAP profile (APPEND,
byte for byte, sources/imap/append.py) or a Microsoft 365 profile (Graph, sources/graph/create.py).
A mailbox with no such source (journal, files, SMTP import) cannot be written to: the refusal says
to download the .eml or an export instead. Every restore is one `content.restore` audit event with
what was asked, where it went and how it ended, also when it failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailark.catalog.export import Selection
from mailark.catalog.lake import ALIAS
from mailark.catalog.reading import copy_bytes, selected_copies
from mailark.control import audit
from mailark.control.mailboxes import readable_mailbox_ids
from mailark.control.models import Mailbox, Organization, SourceProfile
from mailark.control.orgs import ControlError, Forbidden, NotFound, find_mailbox, normalize_address
from mailark.control.principals import Principal, visible_org
from mailark.control.reading import reads_every_mailbox
from mailark.control.sources import source_secret
from mailark.runtime import Runtime
from mailark.sources.errors import ItemRefused, SourceError

ACTION = "content.restore"
DEFAULT_FOLDER = "Restored"
# One request restores at most this many messages (it runs while the caller waits).
MAX_MESSAGES = 1000
WRITABLE_KINDS = ("imap", "graph")


@dataclass(frozen=True)
class RestoreRequest:
    """What to restore (messages, or a selection as exports have it) and where to."""

    item_ids: tuple[str, ...] | None = None
    mailboxes: tuple[str, ...] | None = None  # addresses; None = every mailbox the principal may read
    folder: str | None = None  # a folder of the archive (and its subfolders)
    date_from: datetime | None = None
    date_to: datetime | None = None
    target: str | None = None  # the mailbox to restore into; None = the principal's own
    into_folder: str = DEFAULT_FOLDER

    def validate(self) -> None:
        if self.item_ids is not None and not self.item_ids:
            raise ControlError("name at least one message to restore")
        if self.item_ids is None and self.mailboxes is None and self.folder is None and self.date_from is None \
                and self.date_to is None:
            raise ControlError("name the messages to restore, or a selection (mailboxes, a folder, dates); "
                               "a whole archive is not restored in one go: use an export")
        for d in (self.date_from, self.date_to):
            if d is not None and d.tzinfo is None:
                raise ControlError("dates need a time zone (e.g. 2026-01-01T00:00:00Z)")
        if self.date_from and self.date_to and self.date_from >= self.date_to:
            raise ControlError("the date range is empty: date_from must be before date_to")
        if not self.into_folder.strip("/ "):
            raise ControlError("name the folder to restore into (e.g. Restored)")


@dataclass(frozen=True)
class RestorePlan:
    """An authorized restore: what is selected, and the source and account that write it."""

    org: Organization
    target_id: str
    target: str
    profile_id: str
    profile: str
    kind: str  # imap | graph
    account: str | None  # whole-server IMAP: the account to log in as
    selection: Selection
    item_ids: tuple[str, ...] | None
    into_folder: str


@dataclass
class RestoreResult:
    target: str
    folder: str
    source: str
    kind: str
    status: str = "done"  # done | partial | failed
    selected: int = 0
    restored: int = 0
    bytes: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)  # {"item_id", "reason"}
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class MailWriter(Protocol):
    def append(self, raw: bytes, date: datetime | None) -> str | None: ...
    def close(self) -> None: ...


def _own_mailbox(session: Session, principal: Principal, o: Organization) -> Mailbox | None:
    if principal.kind != "user":
        return None
    owned = session.scalars(select(Mailbox).where(Mailbox.org_id == o.id, Mailbox.owner_user_id == principal.id,
                                                  Mailbox.kind == "user").order_by(Mailbox.primary_address)).first()
    if owned is not None:
        return owned
    mb = find_mailbox(session, o, principal.login)
    return mb if mb is not None and mb.owner_user_id is None and mb.kind == "user" else None


def writers_of(session: Session, o: Organization, mb: Mailbox) -> list[tuple[SourceProfile, str | None]]:
    """The IMAP and Microsoft 365 profiles that archive `mb` and so can write to it: (profile, IMAP account)."""
    addresses = {a.address for a in mb.addresses} | {mb.primary_address}
    found: list[tuple[SourceProfile, str | None]] = []
    graph: list[tuple[SourceProfile, str | None]] = []
    for p in session.scalars(select(SourceProfile).where(SourceProfile.org_id == o.id,
                                                         SourceProfile.kind.in_(WRITABLE_KINDS))
                             .order_by(SourceProfile.name)):
        cfg = json.loads(p.config or "{}")
        if p.kind == "imap":
            if cfg.get("mode", "account") == "account":
                if normalize_address(str(cfg.get("mailbox") or "")) in addresses:
                    found.append((p, None))
            else:
                named = [a for a in (normalize_address(str(x)) for x in cfg.get("accounts") or []) if a in addresses]
                if named:
                    found.append((p, named[0]))
                elif cfg.get("all_user_mailboxes") and mb.kind == "user":
                    found.append((p, mb.primary_address))
        elif mb.kind in ("user", "shared") and (p.domain is None or mb.primary_address.endswith("@" + p.domain)):
            graph.append((p, None))  # a tenant's profile fills every user and shared mailbox of it
    return found + graph


def plan_restore(session: Session, principal: Principal, org: Organization | str, req: RestoreRequest,
                 archived_by: Callable[[str], set[str]] | None = None) -> RestorePlan:
    """Check the rules and resolve the request; `archived_by(mailbox_id)` names the sources that filled it
    (catalogue), so the profile of the same kind is preferred."""
    o = visible_org(session, principal, org)
    if principal.kind == "operator":
        raise Forbidden(f"MSP operators cannot restore the mail of organization {o.name!r}: a support grant allows "
                        f"reading named mailboxes, not writing mail into them")
    req.validate()
    readable = readable_mailbox_ids(session, principal, o)
    if not readable:
        raise Forbidden(f"restoring mail needs read access to archive mailboxes of organization {o.name!r}; you may "
                        f"read none (ask an Admin for a permission, or the Compliance role)")
    everything = reads_every_mailbox(session, principal, o)
    own = _own_mailbox(session, principal, o)
    if req.target is not None:
        target = find_mailbox(session, o, normalize_address(req.target))
        if not everything:
            if target is None or own is None or target.id != own.id:
                raise Forbidden("you may restore mail only into your own mailbox; restoring into another mailbox "
                                "needs the Compliance role")
        elif target is None:
            raise NotFound(f"organization {o.name!r} has no archive mailbox {req.target!r}")
    elif own is not None:
        target = own
    else:
        raise ControlError("you have no archive mailbox of your own to restore into: name the target mailbox"
                           + ("" if everything else " (only Compliance may restore into another mailbox)"))
    assert target is not None
    ids: tuple[str, ...] | None = None if everything else tuple(sorted(readable))
    if req.mailboxes is not None:
        named = []
        for address in req.mailboxes:
            mb = find_mailbox(session, o, normalize_address(address))
            if mb is None or mb.id not in readable:
                raise NotFound(f"organization {o.name!r} has no archive mailbox {address!r} that you may read")
            named.append(mb.id)
        ids = tuple(sorted(set(named)))
    writers = writers_of(session, o, target)
    if not writers:
        raise ControlError(f"archive mailbox {target.primary_address} has no IMAP or Microsoft 365 source to write "
                           f"through: mail is restored through the source that archives the mailbox; download the "
                           f"messages (.eml) or an export instead")
    if archived_by is not None and len(writers) > 1:
        kinds = archived_by(target.id)
        writers.sort(key=lambda w: w[0].kind not in kinds)
    profile, account = writers[0]
    sel = Selection(mailbox_ids=ids, folder=req.folder.strip("/") if req.folder else None,
                    date_from=req.date_from, date_to=req.date_to,
                    item_ids=tuple(sorted(set(req.item_ids))) if req.item_ids is not None else None)
    return RestorePlan(o, target.id, target.primary_address, profile.id, profile.name, profile.kind, account, sel,
                       sel.item_ids, req.into_folder.strip("/ "))


def open_writer(rt: Runtime, plan: RestorePlan) -> MailWriter:
    """A connected writer for the plan's source (SourceError when the server or credentials fail)."""
    with rt.session() as s:
        p = s.get(SourceProfile, plan.profile_id)
        if p is None:
            raise SourceError(f"source {plan.profile!r} was removed a moment ago", retryable=False)
        config, secret = json.loads(p.config), source_secret(p, rt.master_key)
    if plan.kind == "imap":
        from mailark.sources.imap.append import ImapAppender
        from mailark.sources.imap.config import ImapConfig, ImapSecret

        return ImapAppender(ImapConfig.model_validate(config), ImapSecret.model_validate(secret or {}), plan.account,
                            plan.into_folder)
    from mailark.sources.graph.client import GraphClient
    from mailark.sources.graph.create import GraphCreator

    client = GraphClient(config, secret or {}, rt.settings.graph)
    try:
        return GraphCreator(client, plan.target, plan.into_folder)
    except BaseException:
        client.close()
        raise


def _archived_by(rt: Runtime, org: Organization, lock: AbstractContextManager[Any]) -> Callable[[str], set[str]]:
    def kinds(mailbox_id: str) -> set[str]:
        with lock:
            rows = rt.archive_for(org).lake.execute(
                f"SELECT DISTINCT source FROM {ALIAS}.mailbox_items WHERE org_id = ? AND mailbox_id = ?",
                [org.id, mailbox_id]).fetchall()
        return {r[0] for r in rows}
    return kinds


def restore_mail(rt: Runtime, principal: Principal, org: str, req: RestoreRequest,
                 writer_for: Callable[[Runtime, RestorePlan], MailWriter] = open_writer,
                 lake_lock: AbstractContextManager[Any] | None = None) -> RestoreResult:
    """Authorize, read the selected copies (SHA-256 checked) and write them; audited however it ends.

    `lake_lock` guards the runtime's one catalogue connection where several threads share it (the web app)."""
    lock = lake_lock if lake_lock is not None else nullcontext()
    with rt.session() as s:
        o = visible_org(s, principal, org)
        s.expunge(o)
    with rt.session(write=True) as s:
        plan = plan_restore(s, principal, org, req, _archived_by(rt, o, lock))
        s.expunge(plan.org)
    archive = rt.archive_for(plan.org)
    with lock:
        rows = selected_copies(archive, plan.selection, MAX_MESSAGES)
    if plan.item_ids is not None:
        missing = sorted(set(plan.item_ids) - {r.item_id for r in rows})
        if missing:
            raise NotFound(f"organization {plan.org.name!r} has no archived message {missing[0]!r} that you may read")
    if not rows:
        raise NotFound("the selection holds no archived mail you may read: there is nothing to restore")
    if len(rows) > MAX_MESSAGES:
        raise ControlError(f"the selection holds more than {MAX_MESSAGES} messages: restore a smaller selection "
                           f"(a folder, a date range) at a time, or use an export")
    result = RestoreResult(plan.target, plan.into_folder, plan.profile, plan.kind, selected=len(rows))
    try:
        writer = writer_for(rt, plan)
        try:
            for row in rows:
                with lock:
                    raw = copy_bytes(archive, row)
                try:
                    writer.append(raw, row.date)
                except ItemRefused as e:  # this message only (too large, not accepted): go on
                    result.failed.append({"item_id": row.item_id, "reason": str(e)})
                    continue
                result.restored += 1
                result.bytes += len(raw)
        finally:
            writer.close()
    except SourceError as e:
        result.error = str(e)
    if result.error is not None or result.failed:
        result.status = "partial" if result.restored else "failed"
    with rt.session(write=True) as s:
        audit.record(s, principal, ACTION, org_id=plan.org.id, target=plan.target,
                     outcome="ok" if result.status == "done" else result.status,
                     details={"folder": plan.into_folder, "source": plan.profile, "kind": plan.kind,
                              "items": [r.item_id for r in rows][:200], "selected": len(rows),
                              "restored": result.restored, "failed": len(result.failed), "error": result.error,
                              "selection": {"folder": plan.selection.folder,
                                            "mailboxes": "all" if plan.selection.mailbox_ids is None
                                            else len(plan.selection.mailbox_ids),
                                            "date_from": req.date_from.isoformat() if req.date_from else None,
                                            "date_to": req.date_to.isoformat() if req.date_to else None}})
    return result
