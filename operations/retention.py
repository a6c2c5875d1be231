"""Applying retention: policies and holds (control.retention) over the catalogue's copies and the
index, for the CLI, the API and the daily `apply-retention` flow alike.

`apply_retention` deletes through the compliance deletion path (catalog.deletion.delete_copies,
single-instance aware; audited as `content.delete` with a reason naming the policy). It is
idempotent and survives a crash at any point without deleting anything twice or early:

- a run fixes its `as_of` when it starts; an unfinished run is resumed with the same `as_of`, so a
  retry never deletes what was not expired when the run began;
- before each catalogue deletion the batch's copies are written `pending` in the control plane;
  afterwards the batch is marked done, and the audit event records exactly the copies the catalogue
  deletion removed, in one transaction;
- a resumed run first settles pending batches: copies already gone were deleted by that batch (they
  are audited now, once); copies still there are simply evaluated again with everything else,
  against the holds and policies as they are *now*, so a hold placed in between wins.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailark.catalog.archive import OrgArchive
from mailark.catalog.deletion import delete_copies
from mailark.catalog.retention import CopyRow, existing_item_ids, iter_copies
from mailark.control import audit
from mailark.control.compliance import record_deletion
from mailark.control.models import (
    AuditEvent, Organization, RetentionBatch, RetentionPolicy, RetentionReview, RetentionRun,
)
from mailark.control.orgs import Conflict, new_id
from mailark.control.principals import ADMIN, AUDITOR, Principal, require_role
from mailark.control.retention import (
    Decision, HoldRule, PolicyRule, PolicySpec, add_period, all_holds, decide, describe_hold, describe_policy,
    draft_policy, get_policy, hold_rule_of, period_words, place_hold, policies, release_hold, remove_policy,
    require_compliance, rule_of, save_policy, shortening,
)
from mailark.runtime import Runtime
from mailark.operations.holds import check_query, hold_rules, query_hits
from mailark.operations.worm import extend_for_holds

BATCH = 5_000  # copies per deletion step (the compliance path takes at most 10,000 at once)


class NeedsConfirmation(Conflict):
    """A change would shorten what is kept today: said before anything is saved."""


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def _utc(d: datetime | None) -> datetime | None:
    return None if d is None else (d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC))


# ---- evaluating ------------------------------------------------------------------------------------


@dataclass
class Rules:
    policies: list[PolicyRule]
    holds: list[HoldRule]
    hits: dict[str, set[str]]


def load_rules(rt: Runtime, session: Session, org: Organization, archive: OrgArchive,
               extra: Iterable[PolicyRule] = ()) -> Rules:
    pols = [rule_of(p) for p in policies(session, org)]
    holds = hold_rules(session, org)
    queries = [p.query for p in [*pols, *extra]] + [h.query for h in holds]
    return Rules(pols, holds, query_hits(rt.settings, session, org, archive, queries))


def decisions(archive: OrgArchive, rules: Rules) -> Iterator[tuple[CopyRow, Decision]]:
    for c in iter_copies(archive):
        yield c, decide(c, rules.policies, rules.holds, rules.hits)


# ---- changing policies (with the shortening check) -------------------------------------------------


def _fingerprint(session: Session, o: Organization) -> list[tuple[str, str]]:
    return [(p.id, str(p.updated_at)) for p in policies(session, o)]


def save_checked(rt: Runtime, principal: Principal, org_name: str, spec: PolicySpec, *, change: str | None = None,
                 confirm: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Create a policy (or change the one named `change`) unless it would shorten how long copies
    are kept today and `confirm` is not given: then NeedsConfirmation says how many and whose.

    The check reads every copy: it runs in a read transaction (the control plane's write lock is
    not held that long), and the save refuses if the policies changed in between."""
    now = _now(now)
    if spec.query:
        check_query(spec.query)
    with rt.session() as s:
        o = require_compliance(s, principal, org_name, "changing retention policies")
        existing = get_policy(s, o, change) if change else None
        draft = draft_policy(s, o, spec, existing, now)
        archive = rt.archive_for(o)
        rules = load_rules(rt, s, o, archive, [draft])
        seen = _fingerprint(s, o)
    after = [r for r in rules.policies if r.id != draft.id] + [draft]
    sh = shortening(iter_copies(archive), rules.policies, after, draft.id, rules.hits)
    warning = sh.warning(spec.name)
    if warning and not confirm:
        raise NeedsConfirmation(warning)
    with rt.session(write=True) as s:
        o = require_compliance(s, principal, org_name, "changing retention policies")
        _unchanged(s, o, seen)
        p = save_policy(s, principal, o, spec, existing=get_policy(s, o, change) if change else None,
                        warning=warning, now=now)
        note = (f"{sh.overridden} copies this policy covers are kept longer by another policy (the longest wins)"
                if sh.overridden else None)
        return {"policy": describe_policy(s, p), "warning": warning, "shortened": sh.copies,
                "shortened_bytes": sh.bytes, "overridden": sh.overridden, "note": note}


def _unchanged(s: Session, o: Organization, seen: list[tuple[str, str]]) -> None:
    if _fingerprint(s, o) != seen:
        raise Conflict(f"the retention policies of {o.name!r} changed while this change was checked: try again")


def remove_checked(rt: Runtime, principal: Principal, org_name: str, name: str, *, confirm: bool = False) -> dict[str, Any]:
    """Remove a policy; if another policy then keeps some copies for a shorter time, say so first."""
    with rt.session() as s:
        o = require_compliance(s, principal, org_name, "changing retention policies")
        pid = get_policy(s, o, name).id
        archive = rt.archive_for(o)
        rules = load_rules(rt, s, o, archive)
        seen = _fingerprint(s, o)
    after = [r for r in rules.policies if r.id != pid]
    sh = shortening(iter_copies(archive), rules.policies, after, None, rules.hits)
    warning = sh.warning(name)
    if warning:
        warning = warning.replace("saving policy", "removing policy")
    if warning and not confirm:
        raise NeedsConfirmation(warning)
    with rt.session(write=True) as s:
        o = require_compliance(s, principal, org_name, "changing retention policies")
        _unchanged(s, o, seen)
        p = get_policy(s, o, name)
        described = describe_policy(s, p)
        remove_policy(s, principal, o, p, warning)
        return {"removed": described, "warning": warning, "shortened": sh.copies}


def list_policies(rt: Runtime, principal: Principal, org_name: str) -> list[dict[str, Any]]:
    with rt.session() as s:
        o = require_compliance(s, principal, org_name, "reading retention policies")
        return [describe_policy(s, p) for p in policies(s, o)]


# ---- preview ---------------------------------------------------------------------------------------


def _bucket() -> dict[str, int]:
    return {"copies": 0, "bytes": 0}


def _add(b: dict[str, int], c: CopyRow) -> None:
    b["copies"] += 1
    b["bytes"] += int(c.size or 0)


def preview(rt: Runtime, principal: Principal, org_name: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Per policy: the copies (and bytes as received) it governs, would remove (or list for review)
    now, and in each of the next 12 months; held copies apart, by case. Nothing is changed."""
    with rt.session() as s:
        o = require_compliance(s, principal, org_name, "previewing retention")
        return _preview(rt, s, o, _now(now))


def _preview(rt: Runtime, s: Session, o: Organization, now: datetime) -> dict[str, Any]:
    bounds = [add_period(now, i, "m") for i in range(1, 13)]
    org_name = o.name
    archive = rt.archive_for(o)
    rules = load_rules(rt, s, o, archive)
    per: dict[str, dict[str, Any]] = {}
    for p in policies(s, o):
        per[p.id] = {**describe_policy(s, p), "governs": _bucket(), "now": _bucket(),
                     "months": [{"until": b, **_bucket()} for b in bounds]}
    held: dict[str, Any] = {**_bucket(), "cases": defaultdict(_bucket)}
    forever = _bucket()
    for c, d in decisions(archive, rules):
        if d.policy is None:
            _add(forever, c)
            continue
        e = per[d.policy.id]
        _add(e["governs"], c)
        assert d.expires is not None
        if d.held:
            if d.expires <= bounds[-1]:
                _add(held, c)
                for case in d.holds:
                    _add(held["cases"][case], c)
            continue
        if d.expires <= now:
            _add(e["now"], c)
        elif d.expires <= bounds[-1]:
            _add(e["months"][bisect.bisect_left(bounds, d.expires)], c)
    held["cases"] = dict(held["cases"])
    return {"org": org_name, "as_of": now, "policies": list(per.values()), "held": held, "kept_forever": forever}


def expiring_next(rt: Runtime, principal: Principal, org_name: str, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """What retention will remove (or list for review) in each of the next 12 months, summed over the
    policies (from the preview; held copies apart): for the usage page, Admin or Auditor. Empty when
    the organization has no policy (then nothing is scanned)."""
    with rt.session() as s:
        o = require_role(s, principal, org_name, (ADMIN, AUDITOR), "reading usage")
        if not policies(s, o):
            return []
        pv = _preview(rt, s, o, _now(now))
    months = [{"until": m["until"], "copies": 0, "bytes": 0} for m in pv["policies"][0]["months"]]
    for p in pv["policies"]:  # what expired already goes at the next daily run: in the first month
        months[0]["copies"] += p["now"]["copies"]
        months[0]["bytes"] += p["now"]["bytes"]
        for total, m in zip(months, p["months"], strict=True):
            total["copies"] += m["copies"]
            total["bytes"] += m["bytes"]
    return months


# ---- applying --------------------------------------------------------------------------------------


@dataclass
class ApplyResult:
    org: str
    run_id: str
    as_of: datetime
    resumed: bool = False
    deleted: int = 0  # copies deleted by this run (all its attempts)
    bytes_freed: int = 0
    held: int = 0  # expired copies kept because a legal hold covers them
    review: int = 0  # expired copies waiting for a Compliance decision (review policies)
    by_policy: dict[str, int] = field(default_factory=dict)
    settled: int = 0  # copies a crashed attempt had deleted, audited by this one
    # WORM: freed objects and packs the store still keeps locked (removed by a later run), and the
    # locks this run lengthened for copies under a legal hold
    locked: int = 0
    locks_extended: int = 0

    def as_dict(self) -> dict[str, Any]:
        out = {"deleted": self.deleted, "held": self.held, "review": self.review, "bytes_freed": self.bytes_freed,
               "by_policy": self.by_policy, "run_id": self.run_id, "as_of": self.as_of, "resumed": self.resumed,
               "settled_after_crash": self.settled, "org": self.org}
        if self.locked or self.locks_extended:
            out |= {"locked": self.locked, "locks_extended": self.locks_extended}
        return out


def _reason(p: PolicyRule) -> str:
    return (f"retention policy {p.name!r}: kept {period_words(p.keep)} from the "
            f"{'date archived' if p.base == 'archived' else 'message date'}, then deleted")


def _start(rt: Runtime, principal: Principal, org_name: str, now: datetime) -> tuple[Organization, ApplyResult]:
    with rt.session(write=True) as s:
        o = require_compliance(s, principal, org_name, "applying retention")
        run = s.scalar(select(RetentionRun).where(RetentionRun.org_id == o.id, RetentionRun.finished_at.is_(None))
                       .order_by(RetentionRun.started_at))
        resumed = run is not None
        if run is None:
            run = RetentionRun(id=new_id(), org_id=o.id, as_of=now, started_at=now, attempts=1, deleted=0,
                               bytes_freed=0, held=0, review=0)
            s.add(run)
        else:
            run.attempts += 1
        s.flush()
        r = ApplyResult(org_name, run.id, _utc(run.as_of) or now, resumed=resumed, deleted=run.deleted,
                        bytes_freed=run.bytes_freed)
        for b in s.scalars(select(RetentionBatch).where(RetentionBatch.run_id == run.id, RetentionBatch.status == "done")):
            r.by_policy[b.policy_name] = r.by_policy.get(b.policy_name, 0) + b.deleted
        return o, r


def _settle_pending(rt: Runtime, principal: Principal, o: Organization, archive: OrgArchive, r: ApplyResult) -> None:
    """Batches a crashed attempt left pending: the copies gone are its deletions, audited now."""
    with rt.session() as s:
        pending = list(s.scalars(select(RetentionBatch).where(RetentionBatch.run_id == r.run_id,
                                                             RetentionBatch.status == "pending")))
        plans = [(b.id, json.loads(b.item_ids)) for b in pending]
    for batch_id, planned in plans:
        ids = [c["item_id"] for c in planned]
        still = existing_item_ids(archive, ids)
        gone = [c for c in planned if c["item_id"] not in still]
        _finish_batch(rt, principal, o, batch_id, gone, 0, r)
        r.settled += len(gone)


def _finish_batch(rt: Runtime, principal: Principal, o: Organization, batch_id: str, deleted: list[dict[str, Any]],
                  bytes_freed: int, r: ApplyResult) -> None:
    with rt.session(write=True) as s:
        b = s.get(RetentionBatch, batch_id)
        run = s.get(RetentionRun, r.run_id)
        assert b is not None and run is not None
        if b.status == "done":  # settled by a concurrent attempt
            return
        if deleted:
            record_deletion(s, principal, o, b.reason, deleted)
        b.status, b.deleted, b.done_at = "done", len(deleted), datetime.now(UTC)
        run.deleted += len(deleted)
        run.bytes_freed += bytes_freed
        r.deleted += len(deleted)
        r.bytes_freed += bytes_freed
        if deleted:
            r.by_policy[b.policy_name] = r.by_policy.get(b.policy_name, 0) + len(deleted)


def _delete_batch(rt: Runtime, principal: Principal, o: Organization, archive: OrgArchive, r: ApplyResult,
                  policy: PolicyRule, copies: list[CopyRow], evaluated_holds: frozenset[str]) -> None:
    """Plan (pending), re-check the holds if they changed, delete through the compliance path, settle."""
    with rt.session(write=True) as s:
        # A hold placed (or released) since the evaluation began: the holds of now decide.
        if frozenset(h.id for h in hold_rules(s, o)) != evaluated_holds:
            now_held = _held_now(rt, s, o, archive, copies)
            copies = [c for c in copies if c.item_id not in now_held]
            r.held += len(now_held)
        if not copies:
            return
        planned = [{"item_id": c.item_id, "mailbox": c.mailbox, "folder": c.folder, "message_id": None} for c in copies]
        b = RetentionBatch(id=new_id(), run_id=r.run_id, org_id=o.id, policy_id=policy.id, policy_name=policy.name,
                           reason=_reason(policy), item_ids=json.dumps(planned), status="pending", deleted=0,
                           created_at=datetime.now(UTC))
        s.add(b)
        batch_id = b.id
    result = delete_copies(archive, [c.item_id for c in copies])
    r.locked += len(result.locked) + len(result.packs_locked)
    gone = set(result.item_ids)
    _finish_batch(rt, principal, o, batch_id, [c for c in planned if c["item_id"] in gone], result.bytes_freed, r)


def _held_now(rt: Runtime, s: Session, o: Organization, archive: OrgArchive, copies: list[CopyRow]) -> set[str]:
    from mailark.operations.holds import held_cases

    return set(held_cases(rt.settings, s, o, archive, copies))


def apply_retention(rt: Runtime, principal: Principal, org_name: str, *, now: datetime | None = None,
                    batch_size: int = BATCH) -> ApplyResult:
    """Delete what expired (delete policies), list what expired under review policies, keep what is
    held; resumes an unfinished run of the organization (see the module's docstring)."""
    o, r = _start(rt, principal, org_name, _now(now))
    archive = rt.archive_for(o)
    _settle_pending(rt, principal, o, archive, r)
    with rt.session() as s:
        rules = load_rules(rt, s, o, archive)
    doomed: dict[str, list[CopyRow]] = defaultdict(list)
    by_id = {p.id: p for p in rules.policies}
    reviews: list[tuple[CopyRow, Decision]] = []
    held = 0
    held_ids: list[str] = []
    for c, d in decisions(archive, rules):
        if d.held and archive.store.worm is not None:
            held_ids.append(c.item_id)
        if not d.expired(r.as_of):
            continue
        assert d.policy is not None
        if d.held:
            held += 1
        elif d.policy.action == "review":
            reviews.append((c, d))
        else:
            doomed[d.policy.id].append(c)
    r.held = held
    r.locks_extended = extend_for_holds(rt, archive, held_ids)
    r.review = _list_for_review(rt, o, reviews)
    for pid in sorted(doomed, key=lambda k: by_id[k].name):
        copies = doomed[pid]
        for i in range(0, len(copies), batch_size):
            _delete_batch(rt, principal, o, archive, r, by_id[pid], copies[i:i + batch_size],
                          frozenset(h.id for h in rules.holds))
    with rt.session(write=True) as s:
        run = s.get(RetentionRun, r.run_id)
        assert run is not None
        run.finished_at, run.held, run.review = datetime.now(UTC), r.held, r.review
        audit.record(s, principal, "retention.apply", org_id=o.id, target=f"run {r.run_id}",
                     details={k: v for k, v in r.as_dict().items() if k != "org"})
    return r


def _list_for_review(rt: Runtime, o: Organization, reviews: list[tuple[CopyRow, Decision]]) -> int:
    """Put expired copies of review policies on the review queue (once each); the open count."""
    now = datetime.now(UTC)
    with rt.session(write=True) as s:
        known = set(s.scalars(select(RetentionReview.item_id).where(RetentionReview.org_id == o.id)))
        for c, d in reviews:
            if c.item_id in known:
                continue
            assert d.policy is not None and d.expires is not None
            s.add(RetentionReview(org_id=o.id, item_id=c.item_id, policy_id=d.policy.id, policy_name=d.policy.name,
                                  expired_at=d.expires, size=int(c.size or 0), listed_at=now))
        s.flush()
        open_ids = set(s.scalars(select(RetentionReview.item_id).where(RetentionReview.org_id == o.id,
                                                                         RetentionReview.decision.is_(None))))
    return len(open_ids & {c.item_id for c, _ in reviews})


# ---- holds -----------------------------------------------------------------------------------------


def add_hold(rt: Runtime, principal: Principal, org_name: str, case: str, reason: str, *,
             mailboxes: Iterable[str] = (), query: str | None = None) -> dict[str, Any]:
    if query:
        check_query(query)
    with rt.session(write=True) as s:
        h = place_hold(s, principal, org_name, case, reason, mailboxes=mailboxes, query=query)
        out = describe_hold(s, h)
    if rt.settings.worm != "off":  # lengthen the locks of what the hold now keeps
        with rt.session() as s:
            o = require_compliance(s, principal, org_name, "placing legal holds")
            archive = rt.archive_for(o)
            rules = load_rules(rt, s, o, archive)
        out["locks_extended"] = extend_for_holds(rt, archive, [c.item_id for c, d in decisions(archive, rules)
                                                               if h.case_name in d.holds])
    return out


def end_hold(rt: Runtime, principal: Principal, org_name: str, case: str, reason: str) -> dict[str, Any]:
    with rt.session(write=True) as s:
        h = release_hold(s, principal, org_name, case, reason)
        return describe_hold(s, h)


def list_holds(rt: Runtime, principal: Principal, org_name: str, *, released: bool = False) -> list[dict[str, Any]]:
    """Holds (active ones; with `released` the released too), each with the copies and bytes it covers now."""
    with rt.session() as s:
        o = require_compliance(s, principal, org_name, "reading legal holds")
        holds = [h for h in all_holds(s, o) if released or h.released_at is None]
        rows = [describe_hold(s, h) for h in holds]
        active = [hold_rule_of(h) for h in holds if h.released_at is None]
        sizes = {h.id: _bucket() for h in active}
        if active:
            archive = rt.archive_for(o)
            hits = query_hits(rt.settings, s, o, archive, [h.query for h in active])
            for c in iter_copies(archive):
                for h in active:
                    if h.covers(c, hits):
                        _add(sizes[h.id], c)
    for row, h in zip(rows, holds, strict=True):
        row["covers"] = sizes.get(h.id)
    return rows


# ---- the report ------------------------------------------------------------------------------------

RETENTION_ACTIONS = ("retention.policy.create", "retention.policy.change", "retention.policy.remove",
                     "retention.apply", "hold.place", "hold.release")


def report(rt: Runtime, principal: Principal, org_name: str, *, now: datetime | None = None) -> dict[str, Any]:
    """What an auditor asks for: per policy what it keeps and until when, what it deleted when and
    why; per hold what it keeps; the retention events of the audit log and whether the chain verifies."""
    now = _now(now)
    with rt.session() as s:
        o = require_compliance(s, principal, org_name, "reading the retention report")
        archive = rt.archive_for(o)
        rules = load_rules(rt, s, o, archive)
        pols = {p.id: {**describe_policy(s, p), "kept": _bucket(), "next_expiry": None, "deleted": []}
                for p in policies(s, o)}
        holds = {h.id: {**describe_hold(s, h), "kept": _bucket()} for h in all_holds(s, o)}
        for c, d in decisions(archive, rules):
            if d.policy is not None:
                e = pols[d.policy.id]
                _add(e["kept"], c)
                if not d.held and (e["next_expiry"] is None or d.expires < e["next_expiry"]):  # type: ignore[operator]
                    e["next_expiry"] = d.expires
            for h in rules.holds:
                if h.case in d.holds:
                    _add(holds[h.id]["kept"], c)
        by_name = {p["name"]: p for p in pols.values()}
        batches = s.execute(select(RetentionBatch.policy_name, RetentionBatch.reason, RetentionBatch.done_at,
                                   RetentionBatch.deleted).where(RetentionBatch.org_id == o.id,
                                                                 RetentionBatch.status == "done",
                                                                 RetentionBatch.deleted > 0)
                            .order_by(RetentionBatch.done_at)).all()
        removed: list[dict[str, Any]] = []
        for name, reason, done_at, n in batches:
            row = {"at": done_at, "copies": n, "reason": reason, "policy": name}
            (by_name[name]["deleted"] if name in by_name else removed).append(row)
        events = []
        for e in s.scalars(select(AuditEvent).where(
                AuditEvent.org_id == o.id, AuditEvent.action.in_((*RETENTION_ACTIONS, "content.delete")))
                .order_by(AuditEvent.seq)):
            details = json.loads(e.details or "{}")
            if e.action == "content.delete":
                if not str(details.get("reason", "")).startswith("retention policy"):
                    continue  # a compliance officer's own deletion, not retention's
                # the list of copies is in the event; the report keeps the count
                details = {"reason": details.get("reason"), "copies": len(details.get("copies", []))}
            events.append({"seq": e.seq, "at": e.at, "action": e.action, "actor": e.actor_login, "target": e.target,
                           "details": details})
        verdict = audit.verify_chain(s, full=True)
        runs = [{"run_id": x.id, "as_of": x.as_of, "finished_at": x.finished_at, "attempts": x.attempts,
                 "deleted": x.deleted, "held": x.held, "review": x.review}
                for x in s.scalars(select(RetentionRun).where(RetentionRun.org_id == o.id)
                                   .order_by(RetentionRun.started_at.desc()).limit(30))]
    return {"org": org_name, "as_of": now, "policies": list(pols.values()), "removed_policies_deleted": removed,
            "holds": list(holds.values()), "runs": runs, "events": events,
            "audit_chain": {"ok": verdict.ok, "events": verdict.events, "head_seq": verdict.head_seq,
                            "first_bad_seq": verdict.first_bad_seq, "reason": verdict.reason}}


def org_names_with_policies(rt: Runtime) -> list[str]:
    """Organizations that have at least one retention policy (what the daily flow visits)."""
    with rt.session() as s:
        return sorted(set(s.scalars(select(Organization.name).join(RetentionPolicy,
                                                                     RetentionPolicy.org_id == Organization.id))))


# ---- the review queue ------------------------------------------------------------------------------


def open_reviews(rt: Runtime, principal: Principal, org_name: str) -> list[dict[str, Any]]:
    """Copies whose period ended under a review policy, waiting for Compliance to decide."""
    with rt.session() as s:
        o = require_compliance(s, principal, org_name, "reading the retention review queue")
        rows = list(s.scalars(select(RetentionReview).where(RetentionReview.org_id == o.id,
                                                             RetentionReview.decision.is_(None))
                              .order_by(RetentionReview.expired_at)))
        if not rows:
            return []
        from mailark.catalog.deletion import find_copies

        # what a person decides on: whose mail, where, which message (the queue holds ids only)
        copies = {c.item_id: c for c in find_copies(rt.archive_for(o), item_ids=[x.item_id for x in rows])}
        out = []
        for x in rows:
            c = copies.get(x.item_id)
            out.append({"item_id": x.item_id, "policy": x.policy_name, "expired_at": x.expired_at, "size": x.size,
                        "listed_at": x.listed_at, "mailbox": c.mailbox if c else None,
                        "folder": c.folder if c else None, "subject": c.subject if c else None,
                        "date": c.date if c else None, "message_id": c.message_id if c else None})
        return out


def decide_reviews(rt: Runtime, principal: Principal, org_name: str, *, delete: list[str] = (),  # type: ignore[assignment]
                   keep: list[str] = ()) -> dict[str, int]:  # type: ignore[assignment]
    """Delete (through the compliance path, never a held copy) or keep listed copies; audited."""
    from mailark.catalog.deletion import find_copies
    from mailark.control.orgs import ControlError
    from mailark.operations.holds import refuse_held

    now = datetime.now(UTC)
    with rt.session(write=True) as s:
        o = require_compliance(s, principal, org_name, "deciding on the retention review queue")
        listed = {x.item_id: x for x in s.scalars(select(RetentionReview).where(
            RetentionReview.org_id == o.id, RetentionReview.decision.is_(None),
            RetentionReview.item_id.in_([*delete, *keep])))}
        unknown = sorted((set(delete) | set(keep)) - set(listed))
        if unknown:
            raise ControlError(f"not waiting for review in organization {o.name!r}: {', '.join(unknown[:5])}")
        if set(delete) & set(keep):
            raise ControlError("a copy is either deleted or kept, not both")
        for i in keep:
            listed[i].decision, listed[i].decided_by, listed[i].decided_at = "kept", principal.login, now
        if keep:
            audit.record(s, principal, "retention.review.keep", org_id=o.id, target=f"{len(keep)} archived copies",
                         details={"item_ids": sorted(keep)})
        deleted = 0
        if delete:
            archive = rt.archive_for(o)
            copies = find_copies(archive, item_ids=list(delete))
            refuse_held(rt.settings, s, o, archive, copies)  # type: ignore[arg-type]
            by_policy: dict[str, list[Any]] = defaultdict(list)
            for c in copies:
                by_policy[listed[c.item_id].policy_name].append(c)
            for name, cs in sorted(by_policy.items()):
                record_deletion(s, principal, o, f"retention policy {name!r}: period ended, deletion approved on review",
                                [{"item_id": c.item_id, "mailbox": c.mailbox, "folder": c.folder,
                                  "message_id": c.message_id} for c in cs])
            deleted = delete_copies(archive, [c.item_id for c in copies]).copies
            for i in delete:
                listed[i].decision, listed[i].decided_by, listed[i].decided_at = "deleted", principal.login, now
        return {"deleted": deleted, "kept": len(keep)}
