"""The directory-sync flow under a real Prefect server (the test harness) against a real OpenLDAP."""

from __future__ import annotations

from sqlalchemy import select

from mailark.control.models import User
from tests.directory.conftest import DOMAIN, Directory, add_profile, cheap_argon2, ldap_server, make_tenant  # noqa: F401


def test_flow_syncs_due_profiles_and_dry_run_changes_nothing(prefect_api, rt, ldap_server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from mailark.flows.directory_sync import directory_sync

    d = Directory(ldap_server)
    t = make_tenant(rt, "acme", users=10, storage_gb=10)
    add_profile(rt, t.admin, ldap_server)
    add_profile(rt, t.admin, ldap_server, name="broken", domains=("broken.test",), password="wrong-password")
    d.ad_user("ann")

    dry = directory_sync(dry_run=True)
    assert sorted((r["profile"], r["status"], r["dry_run"]) for r in dry) == [("broken", "failed", True),
                                                                              ("corp", "ok", True)]
    with rt.session() as s:
        assert s.scalar(select(User.id).where(User.login == f"ann@{DOMAIN}")) is None

    done = directory_sync()
    by_name = {r["profile"]: r for r in done}
    assert by_name["corp"]["summary"]["user.create"] == {"done": 1}
    assert "wrong bind DN or password" in by_name["broken"]["error"]
    with rt.session() as s:
        assert s.scalar(select(User.id).where(User.login == f"ann@{DOMAIN}")) is not None
    assert directory_sync() == []  # nothing due until the profiles' interval has passed

    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    async def runs():  # type: ignore[no-untyped-def]
        async with get_client() as c:
            return await c.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["directory-sync"])))

    flow_runs = asyncio.run(runs())
    assert len(flow_runs) == 3 and all(r.state.is_completed() for r in flow_runs)
