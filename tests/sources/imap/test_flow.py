"""The imap-sync flow under a real Prefect server (the test harness): one flow run per tick (no
subflow per due profile, issue 17), one task per download batch, a failed profile a failed task
named for it and a line of the failures artifact, no message content in Prefect."""

from __future__ import annotations

from pathlib import Path


from tests.prefect_reads import artifact
from tests.sources.imap.conftest import account_config, append, make_source, new_user


def _runs(name: str) -> list:  # type: ignore[type-arg]
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    async def q():  # type: ignore[no-untyped-def]
        async with get_client() as c:
            return await c.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[name])))

    return asyncio.run(q())


def _task_runs(flow_run_id) -> dict:  # type: ignore[no-untyped-def,type-arg]
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def q():  # type: ignore[no-untyped-def]
        async with get_client() as c:
            return await c.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))

    return {t.name: t for t in asyncio.run(q())}


def test_imap_sync_runs_due_profiles_in_one_run(prefect_api, rt, org, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    from mailark.flows.imap_sync import imap_sync

    good, bad = new_user(dovecot), new_user(dovecot)
    append(dovecot, good, "INBOX", messages[:9])
    append(dovecot, bad, "INBOX", messages[:1])
    make_source(rt, "good", account_config(dovecot, good, batch_messages=5), {"password": dovecot.users[good]})
    make_source(rt, "bad", account_config(dovecot, bad), {"password": "wrong"})
    outcome = imap_sync()
    assert outcome == {"acme/good": "ok", "acme/bad": "failed"}
    top = _runs("imap-sync")
    assert len(top) == 1 and top[0].state.is_completed()
    # No flow run per profile: the Prefect objects grow with the work, not with the due sources.
    assert _runs("imap-profile") == []
    tasks = _task_runs(top[0].id)
    # Download batches are tasks named for account, folder and number; the failed profile is a
    # failed task named for it and its organization, with the reason.
    assert sorted(tasks) == sorted([f"archive {good} INBOX #1", f"archive {good} INBOX #2", "imap bad (acme)"])
    assert tasks[f"archive {good} INBOX #1"].state.is_completed()
    assert tasks["imap bad (acme)"].state.is_failed()
    assert "refused the login" in (tasks["imap bad (acme)"].state.message or "")
    report = artifact("imap-sync-failures")
    assert "| acme | bad |" in report and "refused the login" in report and "good" not in report
    # The ledger's run id is the tick's flow run id.
    runs = dict(rt.lake.execute("SELECT mailbox, any_value(run_id) FROM lake.ingest_ledger GROUP BY 1").fetchall())
    assert runs[good] == str(top[0].id) and runs[bad] == str(top[0].id)
    # Not due again until their interval has passed: a second sync runs nothing.
    assert imap_sync() == {}
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    db = Path(PREFECT_API_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    prefect_bytes = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert b"Here is your dingus fish" in b"".join(messages[:9])
    assert b"Here is your dingus fish" not in prefect_bytes and dovecot.users[good].encode() not in prefect_bytes


def test_imap_sync_checks_organizations_at_once(prefect_api, rt, org, dovecot, messages, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two organizations' sources are synced at the same time (sources.parallel), each on a runtime of
    its own thread, with their batches still tasks of the one flow run."""
    import threading

    from mailark.config.settings import reset_settings_cache
    from mailark.control.orgs import create_org
    from mailark.flows import imap_sync as flow_module

    with rt.session() as s:
        create_org(s, "beta", rt.master_key)
    users = {"acme": new_user(dovecot), "beta": new_user(dovecot, domain="beta")}
    for o, u in users.items():
        append(dovecot, u, "INBOX", messages[:4])
        make_source(rt, f"{o}-mail", account_config(dovecot, u), {"password": dovecot.users[u]}, org=o)
    monkeypatch.setenv("MAILARK_SOURCES__PARALLEL", "2")
    reset_settings_cache()
    both_inside = threading.Barrier(2, timeout=60)  # reached by both only if they run at the same time
    real = flow_module.sync_profile

    def meet_then_sync(*args, **kwargs):  # type: ignore[no-untyped-def]
        both_inside.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(flow_module, "sync_profile", meet_then_sync)
    try:
        outcome = flow_module.imap_sync()
    finally:
        monkeypatch.undo()
        reset_settings_cache()
    assert outcome == {"acme/acme-mail": "ok", "beta/beta-mail": "ok"}
    top = max(_runs("imap-sync"), key=lambda r: r.start_time)  # the session's harness holds earlier runs
    tasks = _task_runs(top.id)
    assert sorted(tasks) == sorted(f"archive {u} INBOX #1" for u in users.values())
    assert all(t.state.is_completed() for t in tasks.values())
    per_mailbox = dict(rt.lake.execute(
        "SELECT mailbox, sum(archived) FROM lake.ingest_ledger WHERE run_id = ? GROUP BY 1", [str(top.id)]).fetchall())
    assert per_mailbox == {users["acme"]: 4, users["beta"]: 4}
