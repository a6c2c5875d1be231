"""Issue 13 (low): refusals over domains and journal addresses never reveal that another organization
exists, and no Admin can add a domain that is an organization's name or reserved by the deployment."""

from __future__ import annotations

import pytest

from mailark.control import identity as idn
from mailark.control.orgs import Conflict, ControlError, create_org


@pytest.fixture
def two(tenant, other):  # type: ignore[no-untyped-def]
    return tenant, other


def _refusal(rt, admin, org: str, domain: str, kind: str = "local") -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict) as e, rt.session() as s:
        idn.add_domain(s, admin, org, domain, kind)
    return str(e.value)


def test_one_neutral_refusal_for_a_domain_held_named_or_reserved(rt, two) -> None:  # type: ignore[no-untyped-def]
    acme, globex = two
    with rt.session() as s:
        idn.add_domain(s, acme.admin, "acme", "acme.example", "global")
    journal = rt.settings.journal.domain
    said = {"acme.example": _refusal(rt, globex.admin, "globex", "acme.example", "global"),  # another org's domain
            "acme": _refusal(rt, globex.admin, "globex", "acme")}  # another organization's name (its default domain)
    said |= {d: _refusal(rt, globex.admin, "globex", d) for d in (
        "localhost", "mailark", journal, f"acme.{journal}", f"x.globex.{journal}", "x.localhost")}
    texts = {t.replace(repr(d), "D") for d, t in said.items()}
    assert texts == {"domain D is already taken on this deployment"}, said
    assert not any("organization" in t for t in said.values())
    with rt.session() as s:
        idn.add_domain(s, globex.admin, "globex", "ghost", "local")
        idn.add_domain(s, globex.admin, "globex", f"globex.{journal}", "local")  # its own journal domain
    assert "of this organization" in _refusal(rt, globex.admin, "globex", "ghost")


def test_reserved_names_are_no_organization_names(rt) -> None:  # type: ignore[no-untyped-def]
    for name in ("localhost", "mailark", "invalid"):
        with pytest.raises(ControlError, match="reserved"), rt.session() as s:
            create_org(s, name, rt.master_key)


def test_a_journal_address_only_in_the_organizations_own_domains(rt, two) -> None:  # type: ignore[no-untyped-def]
    """Before: an Admin could claim journal@<other org>.<journal domain> first (a squat, and a probe:
    'already in use' told that the other organization had one). Now one refusal, whatever is there."""
    from mailark.sources.journal.profiles import add_import, add_journal

    acme, globex = two
    journal = rt.settings.journal.domain
    with rt.session() as s:
        add_journal(s, acme.admin, "acme", rt.master_key, journal, allow_networks=["192.0.2.0/24"])
    answers = []
    for address in (f"journal@acme.{journal}",      # held by acme
                    f"journal-x@acme.{journal}",    # free, but acme's
                    f"journal@{journal}", "journal@acme.example", "j@acme"):
        with pytest.raises(Conflict) as e, rt.session() as s:
            add_journal(s, globex.admin, "globex", rt.master_key, journal, name="j", address=address,
                        allow_networks=["192.0.2.0/24"])
        answers.append(str(e.value).replace(repr(address), "A"))
        with pytest.raises(Conflict), rt.session() as s:
            add_import(s, globex.admin, "globex", rt.master_key, journal, mailbox="ann@globex", name="i",
                       address=address)
    assert len(set(answers)) == 1 and "not available" in answers[0], answers
    with rt.session() as s:  # its own journal domain and its own domains are fine
        add_journal(s, globex.admin, "globex", rt.master_key, journal, name="j", address=f"audit@globex.{journal}",
                    allow_networks=["192.0.2.0/24"])
        add_journal(s, globex.admin, "globex", rt.master_key, journal, name="k", address="journal@globex",
                    allow_networks=["192.0.2.0/24"])
