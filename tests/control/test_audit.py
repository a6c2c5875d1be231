"""The audit log: every admin and auth event, hash-chained; edits, deletions and insertions are found."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from mailark.control import audit
from mailark.control import identity as idn
from mailark.control.models import AuditEvent
from mailark.control.orgs import Forbidden, NotFound
from mailark.control.principals import AUDITOR


@pytest.fixture
def busy(rt, tenant):  # type: ignore[no-untyped-def]
    with rt.session() as s:
        idn.add_domain(s, tenant.admin, "acme", "acme.com", "global")
        idn.create_user(s, tenant.admin, "acme", "ann@acme.com", password="super secret pass 1")
        idn.create_group(s, tenant.admin, "acme", "audit")
        idn.assign_role(s, tenant.admin, "acme", AUDITOR, group="audit")
    return tenant


def test_events_recorded_and_chain_verifies(rt, busy) -> None:  # type: ignore[no-untyped-def]
    with rt.control() as s:
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
        assert actions == ["org.create", "user.create", "domain.add", "user.create", "group.create", "role.assign"]
        v = audit.verify_chain(s)
    assert v.ok and v.events == 6 and v.head_seq == 6 and v.first_bad_seq is None


def test_no_secrets_in_details(rt, busy) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        ev = audit.record(s, busy.admin, "test", details={"password": "hunter2", "nested": {"api_token": "mla_x"},
                                                          "user": "ann"})
    assert "hunter2" not in ev.details and "mla_x" not in ev.details and '"user":"ann"' in ev.details
    with rt.control() as s:
        assert not any("super secret pass 1" in e.details or busy.admin_password in e.details
                       for e in s.scalars(select(AuditEvent)))


@pytest.mark.parametrize("tamper,bad_seq", [
    ("UPDATE audit_events SET target = 'someone-else' WHERE seq = 3", 3),
    ("UPDATE audit_events SET details = '{}' WHERE seq = 2", 2),
    ("UPDATE audit_events SET outcome = 'failed' WHERE seq = 6", 6),
    ("DELETE FROM audit_events WHERE seq = 4", 4),
    ("DELETE FROM audit_events WHERE seq = 6", 6),  # the newest: the head reveals it
    ("UPDATE audit_events SET seq = seq + 100 WHERE seq >= 5", 5),
])
def test_tampering_detected(rt, busy, tamper, bad_seq) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        s.execute(text(tamper))
    with rt.control() as s:
        v = audit.verify_chain(s)
    assert not v.ok and v.first_bad_seq == bad_seq and v.reason


def test_rewritten_row_with_recomputed_hash_breaks_the_next_link(rt, busy) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        ev = s.get(AuditEvent, 3)
        ev.target = "forged"
        ev.hash = audit.event_hash(audit._fields(ev))
    with rt.control() as s:
        v = audit.verify_chain(s)
    assert not v.ok and v.first_bad_seq == 4


def test_inserted_row_detected(rt, busy) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        s.execute(text("UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 4"))  # make room
        s.execute(text("UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1000"))
        s.execute(text("INSERT INTO audit_events (seq, at, org_id, actor_kind, actor_id, actor_login, action, target, "
                       "outcome, details, prev_hash, hash) SELECT 4, at, org_id, actor_kind, actor_id, actor_login, "
                       "'role.assign', 'me', outcome, details, hash, hash FROM audit_events WHERE seq = 3"))
    with rt.control() as s:
        v = audit.verify_chain(s)
    assert not v.ok and v.first_bad_seq == 4


def test_auditors_read_their_org_only(rt, busy, other) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select as sel

    from mailark.control.models import User
    from mailark.control.principals import user_principal

    with rt.session() as s:
        idn.add_member(s, busy.admin, "acme", "audit", "ann@acme.com")
        ann = user_principal(s.scalar(sel(User).where(User.login == "ann@acme.com")))
        events = audit.list_events(s, ann, "acme")
        assert events and all(e.org_id == busy.org.id for e in events)
        with pytest.raises(NotFound):
            audit.list_events(s, ann, "globex")
        with pytest.raises(Forbidden):
            audit.list_events(s, other.admin, "globex")  # Admin is not Auditor
        with pytest.raises(Forbidden):
            audit.list_events(s, ann, None)


def test_concurrent_appends_keep_one_chain(rt, busy) -> None:  # type: ignore[no-untyped-def]
    import threading

    errors: list[BaseException] = []

    def append(i: int) -> None:
        try:
            for j in range(5):
                with rt.session() as s:
                    audit.record(s, busy.admin, "test.concurrent", target=f"{i}.{j}")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=append, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with rt.control() as s:
        v = audit.verify_chain(s)
    assert v.ok and v.events == 6 + 20
