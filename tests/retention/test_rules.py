"""The precedence rules of retention, on plain copies (no catalogue)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from mailark.control.orgs import ControlError
from mailark.control.retention import HoldRule, PolicyRule, add_period, decide, parse_period, shortening, winning_policy


@dataclass
class C:
    item_id: str
    mailbox_id: str = "mb1"
    folder: str = "INBOX"
    date: datetime | None = datetime(2020, 1, 31, tzinfo=UTC)
    archived_at: datetime = datetime(2024, 6, 1, tzinfo=UTC)
    size: int = 100


def test_periods() -> None:
    assert parse_period("10y") == (10, "y") and parse_period("6M") == (6, "m") and parse_period("90d") == (90, "d")
    for bad in ("", "10", "y", "0d", "1w", "-1y", "1.5y", "201y"):
        with pytest.raises(ControlError):
            parse_period(bad)
    start = datetime(2020, 1, 31, tzinfo=UTC)
    assert add_period(start, 1, "m") == datetime(2020, 2, 29, tzinfo=UTC)  # a month end stays in its month
    assert add_period(start, 1, "y") == datetime(2021, 1, 31, tzinfo=UTC)
    assert add_period(datetime(2020, 2, 29, tzinfo=UTC), 1, "y") == datetime(2021, 2, 28, tzinfo=UTC)
    assert add_period(start, 30, "d") == datetime(2020, 3, 1, tzinfo=UTC)


def test_the_longest_policy_covering_a_copy_wins() -> None:
    short = PolicyRule("p1", "short", "1y")
    long_ = PolicyRule("p2", "long", "10y", mailbox_ids=frozenset({"mb1"}))
    other = PolicyRule("p3", "other box", "30y", mailbox_ids=frozenset({"mb2"}))
    c = C("i1")
    p, exp = winning_policy(c, [short, long_, other])
    assert p is long_ and exp == datetime(2030, 1, 31, tzinfo=UTC)
    assert winning_policy(C("i2", mailbox_id="mb3"), [short, long_, other])[0] is short
    # the order the policies come in does not matter
    assert winning_policy(c, [other, long_, short])[0] is long_


def test_base_message_date_or_archived_and_the_latest_expiry_wins_across_bases() -> None:
    by_date = PolicyRule("p1", "by date", "5y")  # 2025-01-31
    by_archive = PolicyRule("p2", "by archive", "1y", base="archived")  # 2025-06-01
    c = C("i1")
    assert by_date.expires(c) == datetime(2025, 1, 31, tzinfo=UTC)
    assert winning_policy(c, [by_date, by_archive]) == (by_archive, datetime(2025, 6, 1, tzinfo=UTC))
    undated = C("i2", date=None)  # no date: counts from when it was archived
    assert by_date.expires(undated) == datetime(2029, 6, 1, tzinfo=UTC)


def test_folder_and_query_scopes() -> None:
    f = PolicyRule("p1", "projects", "1y", folder="Projects")
    assert f.covers(C("a", folder="Projects")) and f.covers(C("b", folder="Projects/2024"))
    assert not f.covers(C("c", folder="ProjectsOld")) and not f.covers(C("d", folder="INBOX"))
    q = PolicyRule("p2", "bank", "7y", query="from:@bank.example")
    hits = {"from:@bank.example": {"a"}}
    assert q.covers(C("a"), hits) and not q.covers(C("b"), hits)
    assert not q.covers(C("a")), "a query policy covers nothing until its query is evaluated"


def test_a_hold_beats_every_policy_and_ties_go_to_review() -> None:
    p = PolicyRule("p1", "short", "1d")
    h = HoldRule("h1", "Case 7", mailbox_ids=frozenset({"mb1"}))
    hq = HoldRule("h2", "Case 8", query="subject:merger")
    d = decide(C("i1"), [p], [h, hq], {"subject:merger": {"i1"}})
    assert d.expired(datetime(2026, 1, 1, tzinfo=UTC)) and d.held and d.holds == ("Case 7", "Case 8")
    assert not decide(C("i2", mailbox_id="mb2"), [p], [h, hq], {"subject:merger": {"i1"}}).held
    review = PolicyRule("p2", "look first", "1d", action="review")
    assert decide(C("i3"), [p, review], []).policy is review
    assert decide(C("i4"), [], []).expires is None, "a copy no policy covers is kept for ever"


def test_shortening_is_said_for_changes_and_removals_never_for_additions() -> None:
    copies = [C("a"), C("b", mailbox_id="mb2"), C("c", folder="Projects")]
    ten = PolicyRule("p1", "ten", "10y")
    assert shortening(copies, [ten], [ten, PolicyRule("new", "one", "1y")], "new").copies == 0
    assert shortening(copies, [ten], [ten, PolicyRule("new", "one", "1y")], "new").overridden == 3
    cut = shortening(copies, [ten], [PolicyRule("p1", "ten", "2y")], "p1")
    assert (cut.copies, cut.bytes, cut.by_policy) == (3, 300, {"ten": 3})
    assert "shorten" in (cut.warning("ten") or "")
    folder = PolicyRule("p2", "projects", "3y", folder="Projects")
    removal = shortening(copies, [ten, folder], [folder], None)
    assert (removal.copies, removal.by_policy) == (1, {"ten": 1}), "only the copy another policy still governs"
