"""Audit log queries: filters in SQL narrow to exactly the right events, keyset paging walks every
event once while new ones are appended, and an organization's Auditor sees only that organization."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from mailark.control import audit
from mailark.control import identity as idn
from mailark.control.audit import AuditFilter
from mailark.control.models import AuditEvent, User
from mailark.control.orgs import ControlError, Forbidden, NotFound
from mailark.control.principals import AUDITOR, Principal, user_principal

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _seed(s: Any, tenant: Any, org_id: str, tag: str) -> None:
    """Events of known shape: actions, actors, outcomes, targets and times a filter can pick apart."""
    bob = Principal("user", "bob-" + tag, f"bob@{tag}.com", org_id=org_id)
    rows = [
        (tenant.admin, "content.export", f"export-1-{tag}", "ok", 0),
        (bob, "content.export.download", f"export-1-{tag}", "ok", 1),
        (bob, "content.delete", f"item 50% of {tag}", "ok", 2),
        (tenant.admin, "auth.login", f"bob@{tag}.com", "failed", 3),
        (bob, "auth.login", f"bob@{tag}.com", "ok", 26),
        (bob, "request.denied", f"GET /api/orgs/{tag}/users", "denied", 27),
        (tenant.admin, "contentious.thing", f"Mixed-Case-Target-{tag}", "ok", 50),
        (bob, "mail.read", f"item_x_{tag}", "ok", 51),
    ]
    for who, action, target, outcome, hours in rows:
        audit.record(s, who, action, org_id=org_id, target=target, outcome=outcome, now=T0 + timedelta(hours=hours))


@pytest.fixture
def audit_world(rt, tenant, other):  # type: ignore[no-untyped-def]
    """acme and globex with the same kinds of events; ann is acme's Auditor, carl an acme user without roles."""
    with rt.session() as s:
        idn.add_domain(s, tenant.admin, "acme", "acme.com", "global")
        idn.create_user(s, tenant.admin, "acme", "ann@acme.com", password="ann password long 1", roles=(AUDITOR,))
        idn.create_user(s, tenant.admin, "acme", "carl@acme.com", password="carl password long 1")
        _seed(s, tenant, tenant.org.id, "acme")
        _seed(s, other, other.org.id, "globex")
    with rt.control() as s:
        ann = user_principal(s.scalar(select(User).where(User.login == "ann@acme.com")))
        carl = user_principal(s.scalar(select(User).where(User.login == "carl@acme.com")))
    return {"acme": tenant, "globex": other, "ann": ann, "carl": carl}


def _all(rt: Any, org_id: str | None = None) -> list[AuditEvent]:
    with rt.control() as s:
        q = select(AuditEvent).order_by(AuditEvent.seq.desc())
        return list(s.scalars(q.where(AuditEvent.org_id == org_id) if org_id else q))


def _seqs(page: Any) -> list[int]:
    return [e.seq for e in page]


CASES = [
    (AuditFilter(action="auth.login"), lambda e: e.action == "auth.login"),
    (AuditFilter(action="content."), lambda e: e.action.startswith("content.")),
    (AuditFilter(action="content.export*"), lambda e: e.action.startswith("content.export")),
    (AuditFilter(action="content"), lambda e: False),  # exact: no action is just "content"
    (AuditFilter(action="mail.read"), lambda e: e.action == "mail.read"),
    (AuditFilter(actor="bob@acme.com"), lambda e: e.actor_login == "bob@acme.com"),
    (AuditFilter(actor="BOB@acme.com"), lambda e: e.actor_login == "bob@acme.com"),
    (AuditFilter(outcome="denied"), lambda e: e.outcome == "denied"),
    (AuditFilter(outcome="failed"), lambda e: e.outcome == "failed"),
    (AuditFilter(target="export-1"), lambda e: "export-1" in e.target),
    (AuditFilter(target="mixed-case"), lambda e: "mixed-case" in e.target.lower()),
    (AuditFilter(target="50%"), lambda e: "50%" in e.target),  # % and _ are text, not wildcards
    (AuditFilter(target="m_x"), lambda e: "m_x" in e.target),
    (AuditFilter(since=T0 + timedelta(hours=26)), lambda e: e.at >= (T0 + timedelta(hours=26)).isoformat()),
    (AuditFilter(until=T0 + timedelta(hours=3)), lambda e: e.at < (T0 + timedelta(hours=3)).isoformat()),
    (AuditFilter(since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=27)),
     lambda e: (T0 + timedelta(hours=2)).isoformat() <= e.at < (T0 + timedelta(hours=27)).isoformat()),
    (AuditFilter(action="auth.", outcome="ok", actor="bob@acme.com"),
     lambda e: e.action.startswith("auth.") and e.outcome == "ok" and e.actor_login == "bob@acme.com"),
]


@pytest.mark.parametrize("f,keep", CASES, ids=[repr({k: v for k, v in c[0].__dict__.items() if v}) for c in CASES])
def test_each_filter_narrows_to_exactly_its_events(rt, audit_world, f, keep) -> None:  # type: ignore[no-untyped-def]
    acme = audit_world["acme"].org.id
    want = [e.seq for e in _all(rt, acme) if keep(e)]
    with rt.control() as s:
        got = audit.list_events(s, audit_world["ann"], "acme", filters=f, newest_first=True, limit=1000)
    assert _seqs(got) == want
    assert got.older is None and got.newer is None
    if f.action in ("auth.login", "content."):
        assert want, "the seed has such events: the case checks something"


def test_time_filter_is_exact_at_the_microsecond(rt, audit_world) -> None:  # type: ignore[no-untyped-def]
    with rt.control() as s:
        edge = T0 + timedelta(hours=26)  # bob's login is at exactly this time
        at_edge = audit.list_events(s, audit_world["ann"], "acme", filters=AuditFilter(since=edge, until=edge + timedelta(microseconds=1)))
        assert [(e.action, e.actor) for e in at_edge] == [("auth.login", "bob@acme.com")]
        # the same moment given in another time zone
        berlin = edge.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
        assert _seqs(audit.list_events(s, audit_world["ann"], "acme", filters=AuditFilter(since=berlin, until=berlin + timedelta(microseconds=1)))) == _seqs(at_edge)


def test_deployment_wide_filters_and_the_organization_filter(rt, audit_world, op) -> None:  # type: ignore[no-untyped-def]
    globex = audit_world["globex"].org.id
    with rt.control() as s:
        everything = audit.list_events(s, op, None, newest_first=True, limit=1000)
        assert _seqs(everything) == [e.seq for e in _all(rt)]
        only_globex = audit.list_events(s, op, None, filters=AuditFilter(org="globex"), newest_first=True, limit=1000)
        assert _seqs(only_globex) == [e.seq for e in _all(rt, globex)]
        denied = audit.list_events(s, op, None, filters=AuditFilter(outcome="denied"), newest_first=True, limit=1000)
        assert {e.target for e in denied} == {"GET /api/orgs/acme/users", "GET /api/orgs/globex/users"}
        with pytest.raises(NotFound):
            audit.list_events(s, op, None, filters=AuditFilter(org="initech"))


def test_newest_first_paging_walks_every_event_once_while_events_are_appended(rt, audit_world) -> None:  # type: ignore[no-untyped-def]
    acme, ann = audit_world["acme"], audit_world["ann"]
    before = [e.seq for e in _all(rt, acme.org.id)]
    seen: list[int] = []
    cursor: int | None = None
    pages = 0
    while True:
        with rt.control() as s:
            page = audit.list_events(s, ann, "acme", before_seq=cursor, newest_first=True, limit=3)
        seen += _seqs(page)
        pages += 1
        with rt.session() as s:  # the log grows while someone pages through it
            audit.record(s, acme.admin, "user.create", org_id=acme.org.id, target=f"new-{pages}")
        if page.older is None:
            break
        assert len(page) == 3
        cursor = page.older
    assert seen == before, "every event of the first page's moment, newest first, once, none of the new ones"
    assert pages == -(-len(before) // 3)
    # The newer cursor of a later page leads back up without overlap, then to the events added since.
    with rt.control() as s:
        second = audit.list_events(s, ann, "acme", before_seq=before[2] , newest_first=True, limit=3)
        assert _seqs(second) == before[3:6] and second.newer == before[3]
        up = audit.list_events(s, ann, "acme", after_seq=second.newer, newest_first=False, limit=3)
        assert _seqs(up) == sorted(before[:3]) and up.newer is not None and up.older == before[2]
        rest = audit.list_events(s, ann, "acme", after_seq=up.newer, newest_first=False, limit=1000)
        assert [e.target for e in rest] == [f"new-{i}" for i in range(1, pages + 1)] and rest.newer is None


def test_followers_page_oldest_first_after_a_seq_with_filters(rt, audit_world) -> None:  # type: ignore[no-untyped-def]
    acme, ann = audit_world["acme"], audit_world["ann"]
    logins = sorted(e.seq for e in _all(rt, acme.org.id) if e.action == "auth.login")
    with rt.control() as s:
        first = audit.list_events(s, ann, "acme", filters=AuditFilter(action="auth.login"), limit=1)
        assert _seqs(first) == logins[:1] and first.newer == logins[0] and first.older is None
        nxt = audit.list_events(s, ann, "acme", filters=AuditFilter(action="auth.login"), after_seq=first.newer, limit=1)
        assert _seqs(nxt) == logins[1:2] and nxt.newer is None and nxt.older == logins[1]
        assert list(audit.list_events(s, ann, "acme", after_seq=10**9)) == []


def test_an_auditor_never_sees_another_organizations_events(rt, audit_world) -> None:  # type: ignore[no-untyped-def]
    ann, acme, globex = audit_world["ann"], audit_world["acme"].org.id, audit_world["globex"].org.id
    probes = [AuditFilter(), AuditFilter(target="globex"), AuditFilter(actor="bob@globex.com"),
              AuditFilter(action="content."), AuditFilter(outcome="denied"), AuditFilter(since=T0 - timedelta(days=9))]
    globex_seqs = {e.seq for e in _all(rt, globex)}
    with rt.control() as s:
        for f in probes:
            for kw in ({"newest_first": True}, {"after_seq": 0}, {"before_seq": max(globex_seqs) + 1}):
                page = audit.list_events(s, ann, "acme", filters=f, limit=1000, **kw)
                assert all(e.org_id == acme for e in page) and not {e.seq for e in page} & globex_seqs, (f, kw)
        assert list(audit.list_events(s, ann, "acme", filters=AuditFilter(actor="bob@globex.com"))) == []
        with pytest.raises(ControlError, match="deployment-wide"):
            audit.list_events(s, ann, "acme", filters=AuditFilter(org="globex"))
        with pytest.raises(NotFound):
            audit.list_events(s, ann, "globex")
        with pytest.raises(NotFound):
            audit.start_export(s, ann, "globex")
        with pytest.raises(Forbidden):
            audit.list_events(s, ann, None)  # the deployment's log is for operators serving every organization


def test_only_auditors_and_unrestricted_operators_read(rt, audit_world) -> None:  # type: ignore[no-untyped-def]
    acme = audit_world["acme"]
    limited = Principal("operator", "op1", "limited-op", org_ids=frozenset({acme.org.id}))
    with rt.control() as s:
        with pytest.raises(Forbidden):
            audit.list_events(s, audit_world["carl"], "acme", filters=AuditFilter(action="auth."))
        with pytest.raises(Forbidden):
            audit.list_events(s, acme.admin, "acme")  # Admin is not Auditor
        with pytest.raises(Forbidden):
            audit.start_export(s, acme.admin, "acme")
        assert list(audit.list_events(s, limited, "acme"))  # its organization: every role, as before
        with pytest.raises(NotFound):
            audit.list_events(s, limited, "globex")
        with pytest.raises(Forbidden):
            audit.list_events(s, limited, None)
        with pytest.raises(ControlError, match="1 to"):
            audit.list_events(s, audit_world["ann"], "acme", limit=0)


def test_export_is_audited_and_streams_the_events_up_to_its_start(rt, audit_world) -> None:  # type: ignore[no-untyped-def]
    ann, acme = audit_world["ann"], audit_world["acme"]
    f = AuditFilter(action="content.")
    want = [e.seq for e in _all(rt, acme.org.id) if e.action.startswith("content.")]
    with rt.session() as s:
        upto = audit.start_export(s, ann, "acme", f)
    with rt.session() as s:  # appended after the click: not in this export
        audit.record(s, acme.admin, "content.export", org_id=acme.org.id, target="later")
    got = [e.seq for e in audit.iter_events(rt.control, ann, "acme", f, upto, chunk=2)]
    assert got == want
    with rt.control() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "audit.export")).one()
        assert (ev.org_id, ev.actor_login, ev.target) == (acme.org.id, "ann@acme.com", "acme")
        assert '"filters":{"action":"content."}' in ev.details and f'"up_to_seq":{upto}' in ev.details
        assert audit.verify_chain(s).ok


def test_parse_time() -> None:
    assert audit.parse_time("2026-11-27") == datetime(2026, 11, 27, tzinfo=UTC)
    assert audit.parse_time("2026-11-27", end_of_day=True) == datetime(2026, 11, 28, tzinfo=UTC)
    assert audit.parse_time("2026-11-27T14:30:00+01:00", end_of_day=True) == datetime(2026, 11, 27, 13, 30, tzinfo=UTC)
    assert audit.parse_time("2026-11-27T14:30:00Z") == datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
    assert audit.parse_time("  ") is None
    with pytest.raises(ValueError, match="not a date: use YYYY-MM-DD"):
        audit.parse_time("27.11.2026")
