"""Organizations and archive mailboxes in the control plane."""

from __future__ import annotations

import pytest

import mailark.control.orgs as orgs
from mailark.control.orgs import Conflict, ControlError, create_org, ensure_mailbox, get_org, org_keys


@pytest.mark.parametrize("name", ["acme", "a-b_c", "x1"])
def test_valid_names(rt, name: str) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        org, keys = create_org(s, name, rt.master_key)
    assert org.storage_quota_bytes >= 10 * 10**9
    with rt.control() as s:
        again = org_keys(s, get_org(s, name), rt.master_key)
    assert again.naming_key == keys.naming_key and again.data_key == keys.data_key


@pytest.mark.parametrize("name", ["Acme", "acme.com", "", "a b", "x" * 64, "ümlaut"])
def test_invalid_names(rt, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ControlError, match="invalid organization name"), rt.session() as s:
        create_org(s, name, rt.master_key)


def test_duplicate_org_refused(rt, org) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict, match="already exists"), rt.session() as s:
        create_org(s, "acme", rt.master_key)


def test_mailbox_addresses_normalized_and_unique(rt, org) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        a, created = ensure_mailbox(s, org, " Ann@ACME ")
    assert created and a.primary_address == "ann@acme"
    with rt.session() as s:
        b, created = ensure_mailbox(s, org, "ann@acme")
    assert not created and b.id == a.id
    with pytest.raises(ControlError, match="invalid mailbox address"), rt.session() as s:
        ensure_mailbox(s, org, "not-an-address")


def test_mailbox_created_concurrently_is_found(rt, org, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two imports create the same mailbox at once: the loser finds the winner's mailbox."""
    with rt.session() as s:
        winner, _ = ensure_mailbox(s, org, "race@acme")
    real = orgs.find_mailbox
    calls = []

    def stale_then_real(session, o, address):  # type: ignore[no-untyped-def]
        calls.append(address)
        return None if len(calls) == 1 else real(session, o, address)

    monkeypatch.setattr(orgs, "find_mailbox", stale_then_real)
    with rt.session() as s:
        loser, created = ensure_mailbox(s, org, "race@acme")
    assert not created and loser.id == winner.id and len(calls) == 2
