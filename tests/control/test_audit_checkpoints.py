"""Verified checkpoints of the audit chain: the incremental verification walks only what is new,
catches what it should, records checkpoints safely under concurrency, and keeps the table small."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from mailark.control import audit
from mailark.control.models import AuditCheckpoint, AuditEvent


def _grow(rt, tenant, n: int) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        for i in range(n):
            audit.record(s, tenant.admin, "test.grow", org_id=tenant.org.id, target=f"t{i}")


def _verify(rt, *, full: bool) -> audit.ChainVerdict:  # type: ignore[no-untyped-def]
    with rt.session() as s:  # committed: the checkpoint stays
        return audit.verify_chain(s, full=full)


def _checkpoints(rt) -> list[tuple[int, bool]]:  # type: ignore[no-untyped-def]
    with rt.control() as s:
        return [(r.seq, r.full) for r in s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))]


@pytest.fixture
def checkpointed(rt, tenant) -> int:  # type: ignore[no-untyped-def]
    """A chain of 11 events with a full checkpoint at its head, then 5 newer events; returns the checkpoint's seq."""
    _grow(rt, tenant, 9)  # and the tenant's own 2
    v = _verify(rt, full=True)
    assert v.ok and v.full and v.events_checked == v.head_seq == 11 and v.last_full_at is not None
    assert _checkpoints(rt) == [(11, True)]
    _grow(rt, tenant, 5)
    return 11


def test_incremental_walks_only_the_new_events(rt, checkpointed) -> None:  # type: ignore[no-untyped-def]
    v = _verify(rt, full=False)
    assert v.ok and not v.full and v.from_seq == checkpointed
    assert v.events_checked == 1 + 5  # the checkpoint's own event, rechecked, and the 5 new ones
    assert v.events == v.head_seq == 16 and v.last_full_at is not None and not v.full_is_stale()
    assert _checkpoints(rt) == [(11, True), (16, False)]
    again = _verify(rt, full=False)  # nothing new: only the checkpoint's event, and no new checkpoint
    assert again.ok and again.from_seq == 16 and again.events_checked == 1
    assert _checkpoints(rt) == [(11, True), (16, False)]


def test_first_incremental_walks_from_the_genesis_and_counts_as_full(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    _grow(rt, tenant, 3)
    with rt.control() as s:
        assert audit.last_full_verification(s) is None
    v = _verify(rt, full=False)
    assert v.ok and v.full and v.from_seq == 1 and v.events_checked == 5 and v.last_full_at is not None
    assert _checkpoints(rt) == [(5, True)]


def test_never_verified_in_full_is_stale() -> None:
    v = audit.ChainVerdict(True, 1, 1, "x")
    assert v.full_is_stale()
    now = datetime.now(UTC)
    assert audit.ChainVerdict(True, 1, 1, "x", last_full_at=now - timedelta(days=3)).full_is_stale(now)
    assert not audit.ChainVerdict(True, 1, 1, "x", last_full_at=now - timedelta(days=1)).full_is_stale(now)


@pytest.mark.parametrize("tamper,bad_seq,says", [
    # after the checkpoint
    ("UPDATE audit_events SET target = 'someone-else' WHERE seq = 13", 13, "changed after it was written"),
    ("DELETE FROM audit_events WHERE seq = 14", 14, "missing"),
    # the checkpoint's own event
    ("UPDATE audit_events SET outcome = 'failed' WHERE seq = 11", 11, "changed after it was written"),
    ("DELETE FROM audit_events WHERE seq = 11", 11, "missing now"),
    # the tail: the newest events removed (the head reveals it) ...
    ("DELETE FROM audit_events WHERE seq >= 15", 15, "events were removed"),
    # ... even when the head is rewound too, past the checkpoint (the checkpoint reveals it)
    ("DELETE FROM audit_events WHERE seq >= 9; UPDATE audit_head SET seq = 8, "
     "hash = (SELECT hash FROM audit_events WHERE seq = 8)", 9, "events were removed"),
])
def test_incremental_catches_changes_after_and_at_the_checkpoint(rt, checkpointed, tamper, bad_seq, says) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        for stmt in tamper.split("; "):
            s.execute(text(stmt))
    v = _verify(rt, full=False)
    assert not v.ok and v.first_bad_seq == bad_seq and says in (v.reason or ""), v
    assert _checkpoints(rt) == [(11, True)]  # a failing verification records nothing


def test_checkpoint_event_rewritten_with_a_recomputed_hash(rt, checkpointed) -> None:  # type: ignore[no-untyped-def]
    """Its own hash checks out, but it is not the hash that was verified (and the next link breaks)."""
    with rt.session() as s:
        ev = s.get(AuditEvent, checkpointed)
        ev.target = "forged"
        ev.hash = audit.event_hash(audit._fields(ev))
    v = _verify(rt, full=False)
    assert not v.ok and v.first_bad_seq == checkpointed and "since it was verified" in (v.reason or "")


def test_an_edit_before_the_checkpoint_is_for_the_full_verification(rt, checkpointed) -> None:  # type: ignore[no-untyped-def]
    """The intended trade-off: the incremental verification vouches only for what came after the newest
    checkpoint, so a forger who rewrites an event BEFORE it (hash recomputed) passes it; the full
    verification (nightly, `mailark audit verify`) walks from the genesis and finds the broken link."""
    with rt.session() as s:
        ev = s.get(AuditEvent, 5)
        ev.target = "forged"
        ev.hash = audit.event_hash(audit._fields(ev))
    assert _verify(rt, full=False).ok  # missed, as designed
    v = _verify(rt, full=True)
    assert not v.ok and v.first_bad_seq == 6 and v.full and v.from_seq == 1
    with pytest.raises(audit.AuditChainBroken, match="BROKEN at event 6"):
        audit.verify_audit_chain(rt.session)


def test_full_verification_marks_the_head_checkpoint_full(rt, checkpointed) -> None:  # type: ignore[no-untyped-def]
    assert _verify(rt, full=False).ok
    assert _checkpoints(rt) == [(11, True), (16, False)]
    with rt.control() as s:
        before = audit.last_full_verification(s)
    v = audit.verify_audit_chain(rt.session)
    assert v.ok and v.full and v.events_checked == 16 and v.last_full_at is not None and v.last_full_at > before
    assert _checkpoints(rt) == [(11, True), (16, True)]


def test_concurrent_verifications_do_not_fail(rt, tenant, checkpointed) -> None:  # type: ignore[no-untyped-def]
    """Pages verifying at once insert the same checkpoint: the duplicate is ignored, never an error."""
    errors: list[BaseException] = []
    verdicts: list[audit.ChainVerdict] = []
    start = threading.Barrier(6)

    def verify() -> None:
        try:
            start.wait()
            for _ in range(3):
                verdicts.append(_verify(rt, full=False))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    def append() -> None:
        try:
            start.wait()
            _grow(rt, tenant, 3)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=verify) for _ in range(5)] + [threading.Thread(target=append)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(verdicts) == 15 and all(v.ok for v in verdicts), [v for v in verdicts if not v.ok]
    v = _verify(rt, full=True)
    assert v.ok and v.head_seq == 19
    assert _checkpoints(rt)[-1] == (19, True)


def test_the_table_stays_bounded(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    old = datetime.now(UTC) - timedelta(days=audit.KEEP_FULL_DAYS + 10)
    _grow(rt, tenant, 1)
    assert _verify(rt, full=True).ok
    with rt.session() as s:  # full verifications long ago, of older heads
        s.execute(text("UPDATE audit_checkpoints SET verified_at = :t"), {"t": old})
    for _ in range(audit.KEEP_INCREMENTAL + 10):
        _grow(rt, tenant, 1)
        assert _verify(rt, full=False).ok
    cps = _checkpoints(rt)
    assert sum(1 for _, full in cps if not full) == audit.KEEP_INCREMENTAL
    assert [seq for seq, full in cps if full] == [3]  # older than 90 days, but the newest full one: kept
    assert _verify(rt, full=True).ok  # a new full one: the old full one goes
    cps = _checkpoints(rt)
    assert [seq for seq, full in cps if full] == [cps[-1][0]] and len(cps) == audit.KEEP_INCREMENTAL
    with rt.control() as s:
        assert s.scalar(select(func.count()).select_from(AuditCheckpoint)) <= audit.KEEP_INCREMENTAL + 1


def test_a_rolled_back_verification_leaves_no_checkpoint(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    """The checkpoint is written in the caller's transaction: it goes with the events that transaction saw."""
    with rt.session() as s:
        audit.record(s, tenant.admin, "test.uncommitted")
        assert audit.verify_chain(s, full=True).ok
        s.rollback()
    assert _checkpoints(rt) == []
    v = _verify(rt, full=False)
    assert v.ok and v.full and v.head_seq == 2
