"""Row ids made a batch at a time are ULIDs, as `str(ULID()).lower()` made them one by one."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from ulid import ULID

from mailark.catalog.ids import new_ids


def test_a_batch_of_ids_are_distinct_ulids_of_this_moment() -> None:
    before = datetime.now(UTC)
    ids = new_ids(5000)
    assert len(ids) == 5000 and len(set(ids)) == 5000
    assert ids == sorted(ids)  # given to a batch's rows in order, they sort as the rows came
    for text in ids:
        assert len(text) == 26 and text == text.lower()
        u = ULID.from_str(text.upper())
        assert str(u).lower() == text  # python-ulid reads back the same id
        assert before - timedelta(seconds=1) <= u.datetime <= datetime.now(UTC) + timedelta(seconds=1)
    assert len({u[10:] for u in ids}) == 5000  # 80 random bits each, not one value shifted


def test_ids_of_a_later_batch_sort_after_and_none_come_from_nothing() -> None:
    first = new_ids(3)
    time.sleep(0.002)
    assert max(first) < min(new_ids(3))
    assert new_ids(0) == []
