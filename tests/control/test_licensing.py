"""Licences: limits checked in the writing transaction, tiers, trial, warnings, quota sync."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mailark.control import identity as idn
from mailark.control import licensing as lic
from mailark.control import mailboxes as mbx
from mailark.control.models import GB, Organization
from mailark.control.orgs import ControlError, Forbidden, LimitExceeded, create_org
from tests.control.conftest import make_tenant


def test_default_org_is_a_trial_with_small_licence(rt, org) -> None:  # type: ignore[no-untyped-def]
    with rt.control() as s:
        v = lic.view(s, org)
    assert v.status == "trial" and v.licensed_users == lic.DEFAULT_USERS and v.storage_gb == 10
    assert v.users == 1  # the first admin holds a licence
    assert timedelta(days=29) < v.trial_ends_at - datetime.now(UTC) <= timedelta(days=30)
    assert org.storage_quota_bytes == 10 * GB


def test_paid_org_with_figures(rt) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        o, _ = create_org(s, "big", rt.master_key, users=50, storage_gb=250)
        v = lic.view(s, o)
    assert (v.status, v.licensed_users, v.mailbox_quota, v.storage_quota_bytes) == ("paid", 50, 100, 250 * GB)
    with rt.session() as s:
        assert lic.view(s, create_org(s, "t", rt.master_key, users=3, storage_gb=25, trial=True).org).status == "trial"


@pytest.mark.parametrize("gb", [0, 5, 11, 30])
def test_storage_must_be_a_tier(rt, gb) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ControlError, match="not a tier"), rt.session() as s:
        create_org(s, "x", rt.master_key, users=2, storage_gb=gb)
    with rt.control() as s:
        assert s.scalar(select(Organization)) is None


def test_users_beyond_licence_refused_and_freed_by_deletion(rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "small", users=2, storage_gb=10)
    with rt.session() as s:
        idn.create_user(s, t.admin, "small", "u1@small")
    with pytest.raises(LimitExceeded, match=r"all 2 licensed users.*mailark licence set --org small --users"), rt.session() as s:
        idn.create_user(s, t.admin, "small", "u2@small")
    with rt.session() as s:
        idn.delete_user(s, t.admin, "small", "u1@small")
        idn.create_user(s, t.admin, "small", "u2@small")


def test_mailbox_quota_counts_every_kind_and_outlives_users(rt, op) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "small", users=2, storage_gb=10, mailboxes_per_user=2)  # quota 4
    with rt.session() as s:
        idn.create_user(s, t.admin, "small", "u1@small", with_mailbox=True)
        mbx.create_mailbox(s, t.admin, "small", "info@small", kind="shared")
        mbx.create_mailbox(s, t.admin, "small", "journal@small", kind="journal")
        mbx.create_mailbox(s, t.admin, "small", "u1b@small", kind="user", owner="u1@small")
    with pytest.raises(LimitExceeded, match=r"all 4 archive mailboxes.*2 users x 2"), rt.session() as s:
        mbx.create_mailbox(s, t.admin, "small", "more@small", kind="shared")
    with rt.session() as s:  # deleting the user frees the user licence, not mailbox places
        idn.delete_user(s, t.admin, "small", "u1@small")
        assert lic.view(s, s.get(Organization, t.org.id)).mailboxes == 4
    with pytest.raises(LimitExceeded), rt.session() as s:
        mbx.ensure_archive_mailbox(s, t.admin, "small", "more@small")
    with rt.session() as s:  # raising the licence takes effect at once
        lic.change_licence(s, op, "small", mailboxes_per_user=3)
        mbx.create_mailbox(s, t.admin, "small", "more@small", kind="shared")


def test_refused_user_with_mailbox_leaves_nothing_behind(rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "small", users=2, storage_gb=10, mailboxes_per_user=1)  # quota 2
    with rt.session() as s:
        mbx.create_mailbox(s, t.admin, "small", "a@small", kind="shared")
        mbx.create_mailbox(s, t.admin, "small", "b@small", kind="shared")
    with rt.session() as s:  # the caller even commits after the refusal: nothing half-made remains
        with pytest.raises(LimitExceeded):
            idn.create_user(s, t.admin, "small", "u1@small", with_mailbox=True)
    with rt.control() as s:
        assert lic.view(s, s.get(Organization, t.org.id)).users == 1


def test_concurrent_adds_cannot_both_take_the_last_place(rt) -> None:  # type: ignore[no-untyped-def]
    """Two writers race for the last licence: the licence row lock lets exactly one win."""
    t = make_tenant(rt, "race", users=2, storage_gb=10, mailboxes_per_user=1)  # 1 mailbox place left (of 2)
    with rt.session() as s:
        mbx.create_mailbox(s, t.admin, "race", "a@race", kind="shared")
    barrier, results = threading.Barrier(2), []

    def add(address: str) -> None:
        try:
            with rt.session() as s:
                barrier.wait()
                mbx.create_mailbox(s, t.admin, "race", address, kind="shared")
            results.append("ok")
        except Exception as e:  # noqa: BLE001 - the loser's error is the point
            results.append(type(e).__name__)

    threads = [threading.Thread(target=add, args=(f"m{i}@race",)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results.count("ok") == 1, results
    assert sorted(results) == ["LimitExceeded", "ok"], results
    with rt.control() as s:
        assert lic.view(s, s.get(Organization, t.org.id)).mailboxes == 2


def test_only_operators_change_licences_and_shrinking_below_use_is_recorded(rt, tenant, op) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Forbidden, match="MSP operator"), rt.session() as s:
        lic.change_licence(s, tenant.admin, "acme", users=100)
    with rt.session() as s:
        idn.create_user(s, tenant.admin, "acme", "u1@acme")
    with rt.session() as s:  # the customer's downgraded order is recorded first (issue 14): over licence
        v = lic.change_licence(s, op, "acme", users=1)
        assert v.licensed_users == 1 and v.users == 2 and v.over_licence == ["users"]
        warned = lic.licence_warnings(s, s.get(Organization, tenant.org.id), 0)
        assert [w.notice for w in warned if w.code == "users"] == ["users_over"]
        assert "over licence: 2 users for 1 licensed" in [w.message for w in warned if w.code == "users"][0]
    with pytest.raises(LimitExceeded, match="all 1 licensed users"), rt.session() as s:  # nothing new until it fits
        idn.create_user(s, tenant.admin, "acme", "u2@acme")
    with rt.session() as s:
        assert lic.change_licence(s, op, "acme", users=2).over_licence == []
    with rt.session() as s:
        v = lic.change_licence(s, op, "acme", storage_gb=100, auto_expand=True)
        assert v.storage_quota_bytes == 100 * GB
    with rt.control() as s:  # ingest reads the organization's quota: it follows the licence
        assert s.get(Organization, tenant.org.id).storage_quota_bytes == 100 * GB
        assert rt.org("acme").storage_quota_bytes == 100 * GB


def test_trial_becomes_paid_unless_cancelled(rt, tenant, op) -> None:  # type: ignore[no-untyped-def]
    later = datetime.now(UTC) + timedelta(days=31)
    with rt.session() as s:
        assert lic.view(s, tenant.org, now=later).status == "paid"
        lic.cancel_trial(s, op, "acme")
        assert lic.view(s, tenant.org).status == "trial"
        assert lic.view(s, tenant.org, now=later).status == "expired"
        with pytest.raises(LimitExceeded, match="cancelled"):
            lic.check_can_add_user(s, tenant.org, now=later)
        lic.renew(s, op, "acme")
        assert lic.view(s, tenant.org, now=later).status == "paid"


def test_warnings(rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "w", users=2, storage_gb=10, mailboxes_per_user=1)
    with rt.session() as s:
        o = s.get(Organization, t.org.id)
        assert lic.licence_warnings(s, o, 0) == []
        assert [w.code for w in lic.licence_warnings(s, o, 9 * GB)] == ["storage"]
        assert "90 %" in lic.licence_warnings(s, o, 9 * GB)[0].message
        assert "paused" in lic.licence_warnings(s, o, 10 * GB)[0].message
        assert lic.licence_warnings(s, o, int(8.9 * GB)) == []
        idn.create_user(s, t.admin, "w", "u@w", with_mailbox=True)
        mbx.create_mailbox(s, t.admin, "w", "x@w", kind="shared")
        assert [w.code for w in lic.licence_warnings(s, o, 0)] == ["users", "mailboxes"]


def test_auto_expand_to_next_tier(rt, op) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "grow", users=2, storage_gb=25)
    with rt.session() as s:
        o = s.get(Organization, t.org.id)
        assert lic.auto_expand(s, o, 24 * GB) is None  # not enabled
        lic.change_licence(s, op, "grow", auto_expand=True)
        assert lic.auto_expand(s, o, 20 * GB) is None  # below 90 %
        assert lic.auto_expand(s, o, int(22.5 * GB)) == 50
        assert o.storage_quota_bytes == 50 * GB
