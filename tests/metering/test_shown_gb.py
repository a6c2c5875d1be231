"""Issue 14: storage figures below 10 GB are not rounded up to the tier ("9.4 GB of 10 GB (94 %)")."""

from __future__ import annotations

from mailark.control import notices
from mailark.control.metering import GB, pause_notice, shown_gb, whole_gb


def test_below_ten_gb_one_decimal_cut_down_never_the_tier() -> None:
    assert shown_gb(int(9.46 * GB)) == 9.4
    assert shown_gb(10 * GB - 1) == 9.9  # never "10 GB" while there is room
    assert shown_gb(0) == 0
    assert shown_gb(int(10.2 * GB)) == whole_gb(int(10.2 * GB)) == 11  # from 10 GB: whole GB as the licence speaks


def test_the_storage_warning_and_its_recognition_keep_the_decimal(rt, org) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.licensing import licence_warnings

    with rt.session() as s:
        w = next(x for x in licence_warnings(s, s.merge(org), int(9.4 * GB)) if x.code == "storage")
    assert w.message == "storage is 94 % full (9.4 GB used of 10 GB licensed)"
    assert notices.recognize(w.message).params["used_gb"] == 9.4  # type: ignore[union-attr]
    n = pause_notice("paid", int(10 * GB), 10 * GB, org)
    assert n is not None and "(10 GB used of 10 GB licensed)" in n.message
