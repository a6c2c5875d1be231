"""Applying retention on a real catalogue and index: what is deleted, kept, held, resumed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from mailark.catalog.lake import ALIAS
from mailark.control.models import AuditEvent, RetentionBatch, RetentionRun
from mailark.control.principals import Principal
from mailark.control.retention import PolicySpec
from mailark.operations import retention as r
from tests.retention.conftest import Archive
from tests.search.mails import message

OP = Principal.deployment_operator()
NOW = datetime(2026, 12, 1, tzinfo=UTC)
OLD = datetime(2012, 3, 1, tzinfo=UTC)


def _items(rt, org_id: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {x[0] for x in rt.lake.execute(f"SELECT item_id FROM {ALIAS}.mailbox_items WHERE org_id = ?", [org_id]).fetchall()}


def _deleted_in_audit(rt) -> list[str]:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "content.delete")).all()
        out = []
        for e in events:
            d = json.loads(e.details)
            assert d["reason"].startswith("retention policy 'five years'")
            out += [c["item_id"] for c in d["copies"]]
        return out


def _mail(arc: Archive) -> dict[str, list[str]]:
    return {
        "old": arc.put(arc.ann, [message(i, date=OLD, subject=f"old {i}") for i in range(3)]),
        "new": arc.put(arc.ann, [message(10 + i, date=datetime(2026, 6, 1, tzinfo=UTC)) for i in range(2)]),
        "merger": arc.put(arc.info, [message(20 + i, date=OLD, subject=f"merger talks {i}") for i in range(2)]),
    }


def test_apply_deletes_what_expired_keeps_what_is_held_and_is_idempotent(rt, arc: Archive) -> None:  # type: ignore[no-untyped-def]
    m = _mail(arc)
    r.save_checked(rt, OP, "acme", PolicySpec("five years", "5y"), now=NOW)
    r.add_hold(rt, OP, "acme", "Case 42", "merger litigation", query="subject:merger")

    pv = r.preview(rt, OP, "acme", now=NOW)
    (pol,) = pv["policies"]
    assert pol["governs"]["copies"] == 7 and pol["now"]["copies"] == 3
    assert pv["held"]["copies"] == 2 and pv["held"]["cases"]["Case 42"]["copies"] == 2
    # the 2026-06-01 copies expire 2031-06-01: beyond the next 12 months
    assert sum(x["copies"] for x in pol["months"]) == 0
    assert _items(rt, arc.archive.org_id) == set(sum(m.values(), [])), "a preview deletes nothing"

    res = r.apply_retention(rt, OP, "acme", now=NOW)
    assert (res.deleted, res.held, res.review) == (3, 2, 0)
    assert _items(rt, arc.archive.org_id) == set(m["new"] + m["merger"])
    assert sorted(_deleted_in_audit(rt)) == sorted(m["old"])
    again = r.apply_retention(rt, OP, "acme", now=NOW)
    assert (again.deleted, again.held) == (0, 2) and not again.resumed

    r.end_hold(rt, OP, "acme", "Case 42", "litigation settled")
    assert r.apply_retention(rt, OP, "acme", now=NOW).deleted == 2
    assert _items(rt, arc.archive.org_id) == set(m["new"])
    assert r.report(rt, OP, "acme", now=NOW)["audit_chain"]["ok"]


def test_new_mail_matching_a_query_hold_is_held_from_arrival(rt, arc: Archive) -> None:  # type: ignore[no-untyped-def]
    r.save_checked(rt, OP, "acme", PolicySpec("five years", "5y"), now=NOW)
    r.add_hold(rt, OP, "acme", "Case 9", "regulator inquiry", query="subject:merger")
    late = arc.put(arc.ann, [message(30, date=OLD, subject="merger memo")])  # arrives after the hold, not indexed yet
    res = r.apply_retention(rt, OP, "acme", now=NOW)
    assert (res.deleted, res.held) == (0, 1) and _items(rt, arc.archive.org_id) == set(late)


def test_review_policies_list_instead_of_deleting(rt, arc: Archive) -> None:  # type: ignore[no-untyped-def]
    _mail(arc)
    r.save_checked(rt, OP, "acme", PolicySpec("look first", "1y", action="review"), now=NOW)
    res = r.apply_retention(rt, OP, "acme", now=NOW)
    assert (res.deleted, res.review) == (0, 5)
    assert r.apply_retention(rt, OP, "acme", now=NOW).review == 5, "listed once, still open"


def test_a_policy_that_shortens_what_another_keeps_says_so_before_it_is_saved(rt, arc: Archive) -> None:  # type: ignore[no-untyped-def]
    _mail(arc)
    r.save_checked(rt, OP, "acme", PolicySpec("ten", "10y"), now=NOW)
    added = r.save_checked(rt, OP, "acme", PolicySpec("one", "1y", mailboxes=("ann@acme.example",)), now=NOW)
    assert added["warning"] is None and added["overridden"] == 5
    with pytest.raises(r.NeedsConfirmation, match="would shorten how long 7 archived copies"):
        r.save_checked(rt, OP, "acme", PolicySpec("ten", "2y"), change="ten", now=NOW)
    assert {p["name"]: p["keep"] for p in r.list_policies(rt, OP, "acme")} == {"ten": "10y", "one": "1y"}, "nothing saved"
    with pytest.raises(r.NeedsConfirmation):
        r.remove_checked(rt, OP, "acme", "ten")
    changed = r.save_checked(rt, OP, "acme", PolicySpec("ten", "2y"), change="ten", confirm=True, now=NOW)
    assert changed["shortened"] == 7
    with rt.session() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "retention.policy.change")).one()
        assert "would shorten" in json.loads(ev.details)["confirmed_warning"]


class Crash(Exception):
    pass


@pytest.mark.parametrize("when", ["after-commit", "before-commit"])
def test_a_crash_in_the_middle_resumes_without_deleting_twice_or_early(rt, arc: Archive, monkeypatch, when) -> None:  # type: ignore[no-untyped-def]
    old = arc.put(arc.ann, [message(i, date=OLD) for i in range(5)])
    young = arc.put(arc.info, [message(40, date=datetime(2022, 6, 1, tzinfo=UTC))])  # expires 2027-06-01
    r.save_checked(rt, OP, "acme", PolicySpec("five years", "5y"), now=NOW)
    real = r.delete_copies
    calls = []

    def crashing(archive, item_ids):  # type: ignore[no-untyped-def]
        calls.append(list(item_ids))
        if len(calls) == 2:
            if when == "after-commit":
                real(archive, item_ids)
            raise Crash("killed")
        return real(archive, item_ids)

    monkeypatch.setattr(r, "delete_copies", crashing)
    with pytest.raises(Crash):
        r.apply_retention(rt, OP, "acme", now=NOW, batch_size=2)
    with rt.session() as s:
        run = s.scalars(select(RetentionRun)).one()
        assert run.finished_at is None
        assert [b.status for b in s.scalars(select(RetentionBatch).order_by(RetentionBatch.created_at))] == ["done", "pending"]
    monkeypatch.setattr(r, "delete_copies", real)

    # resumed ten years later: the run keeps its as_of, so the young copy is not deleted early
    res = r.apply_retention(rt, OP, "acme", now=datetime(2036, 1, 1, tzinfo=UTC), batch_size=2)
    assert res.resumed and res.as_of == NOW and res.deleted == 5
    assert res.settled == (2 if when == "after-commit" else 0)
    assert _items(rt, arc.archive.org_id) == set(young)
    audited = _deleted_in_audit(rt)
    assert sorted(audited) == sorted(old), "every deletion audited exactly once"
    with rt.session() as s:
        assert all(b.status == "done" for b in s.scalars(select(RetentionBatch)))
        assert s.scalars(select(RetentionRun)).one().finished_at is not None


def test_review_decisions_delete_through_the_compliance_path_or_keep(rt, arc: Archive) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.orgs import ControlError
    from mailark.operations.holds import HeldCopies

    m = _mail(arc)
    r.save_checked(rt, OP, "acme", PolicySpec("look first", "5y", action="review"), now=NOW)
    assert r.apply_retention(rt, OP, "acme", now=NOW).review == 5
    listed = {x["item_id"] for x in r.open_reviews(rt, OP, "acme")}
    assert listed == set(m["old"] + m["merger"])
    r.add_hold(rt, OP, "acme", "Case 3", "hold the merger", mailboxes=["info@acme.example"])
    with pytest.raises(HeldCopies, match="Case 3"):
        r.decide_reviews(rt, OP, "acme", delete=m["merger"][:1])
    with pytest.raises(ControlError):
        r.decide_reviews(rt, OP, "acme", delete=m["new"][:1])  # not listed
    assert r.decide_reviews(rt, OP, "acme", delete=m["old"][:2], keep=m["old"][2:]) == {"deleted": 2, "kept": 1}
    assert _items(rt, arc.archive.org_id) == set(m["new"] + m["merger"] + m["old"][2:])
    assert {x["item_id"] for x in r.open_reviews(rt, OP, "acme")} == set(m["merger"])
    assert r.apply_retention(rt, OP, "acme", now=NOW).review == 0, "held copies are not listed; decided ones stay decided"
