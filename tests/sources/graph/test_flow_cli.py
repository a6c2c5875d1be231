"""The m365-sync flow under a real Prefect server (the test harness) and the add-m365 / sync-m365 commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mailark.control import sources
from mailark.control.principals import Principal
from mailark.cli.sources_graph import register
from mailark.sources.errors import SourceError
from tests.peers.graph_server import GraphServer, Tenant
from tests.prefect_reads import artifact
from tests.sources.graph.helpers import corpus_messages, items, ledger


def _flow_runs(name: str) -> list:  # type: ignore[type-arg]
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    async def q():  # type: ignore[no-untyped-def]
        async with get_client() as c:
            runs = await c.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[name])))
            tasks = await c.read_task_runs()
            return runs, tasks

    return asyncio.run(q())


def test_flow_runs_due_profiles_with_a_task_per_batch_and_fails_with_the_reason(
        prefect_api, rt, org, graph: GraphServer, tenant: Tenant, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.flows.graph_sync import m365_sync

    ann = tenant.add_user("ann")
    for raw in corpus_messages(corpus, 6):
        tenant.add_message(ann, "inbox", raw)
    with rt.session(write=True) as s:
        op = Principal.deployment_operator()
        sources.create_source(s, op, "acme", "graph", "m365", graph.profile_config(),
                              {"client_secret": tenant.client_secret}, rt.master_key)
    results = m365_sync()
    assert [(r["profile"], r["status"], r["archived"]) for r in results] == [("m365", "ok", 6)]
    runs, tasks = _flow_runs("m365-sync")
    [run] = runs
    assert run.state.is_completed() and run.name == "sync Microsoft 365 sources"
    names = sorted(t.name for t in tasks if t.flow_run_id == run.id)
    assert names == ["archive ann@contoso.example Inbox (batch 1)", "archive ann@contoso.example Inbox (batch 2)"]
    assert {r["run_id"] for r in ledger(rt)} == {str(run.id)}
    # Prefect's own database holds no message content (parameters, results and logs are counts).
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    db = Path(PREFECT_API_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    prefect_bytes = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    bodies = [m.raw[len(m.raw) // 2:len(m.raw) // 2 + 24] for m in ann.messages.values()]
    assert len(set(bodies)) == 6 and not any(b in prefect_bytes for b in bodies)
    assert m365_sync() == []  # not due again before its interval
    [again] = m365_sync(org="acme", profile="m365")  # on demand (the CLI with a server up): due or not
    assert (again["status"], again["seen"]) == ("ok", 0)

    # A profile with a wrong secret, due first, does not stop another organization's profile in the same
    # tick; it is a failed task named for it and its organization, a line of the failures artifact, and it
    # fails the flow run with its reason.
    from mailark.control.orgs import create_org

    bob = tenant.add_user("bob")
    for raw in corpus_messages(corpus, 2):
        tenant.add_message(bob, "inbox", raw)
    with rt.session(write=True) as s:
        sources.create_source(s, op, "acme", "graph", "broken", graph.profile_config(), {"client_secret": "nope"},
                              rt.master_key)
        create_org(s, "zeta", rt.master_key)
        sources.create_source(s, op, "zeta", "graph", "m365-zeta", graph.profile_config(),
                              {"client_secret": tenant.client_secret}, rt.master_key)
    with pytest.raises(SourceError, match=r"broken \(acme\): Microsoft 365 refused the client secret"):
        m365_sync()
    runs, tasks = _flow_runs("m365-sync")
    failed = [r for r in runs if r.state.is_failed()]
    assert len(failed) == 1 and "refused the client secret" in failed[0].state.message
    mine = {t.name: t for t in tasks if t.flow_run_id == failed[0].id}
    assert mine["m365 broken (acme)"].state.is_failed()
    assert "refused the client secret" in (mine["m365 broken (acme)"].state.message or "")
    assert not any(n.startswith("m365 m365-zeta") for n in mine)  # the good profile is no failed task
    report = artifact("m365-sync-failures")
    assert "| acme | broken |" in report and "refused the client secret" in report and "zeta" not in report
    zeta_rows = [r for r in ledger(rt) if r["run_id"] == str(failed[0].id) and r["archived"]]
    assert sum(r["archived"] for r in zeta_rows) == 8  # zeta's profile archived ann's 6 and bob's 2 messages


def _cli() -> typer.Typer:
    app = typer.Typer()
    source_app = typer.Typer()
    register(source_app)
    app.add_typer(source_app, name="source")
    return app


def test_cli_adds_with_a_tested_connection_and_syncs(rt, org, graph: GraphServer, tenant: Tenant, corpus: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ann = tenant.add_user("ann")
    for raw in corpus_messages(corpus, 3):
        tenant.add_message(ann, "inbox", raw)
    runner = CliRunner()
    base = ["source", "add-m365", "m365", "--org", "acme", "--tenant-id", tenant.tenant_id, "--client-id",
            tenant.client_id, "--authority-url", graph.base_url, "--graph-url", graph.graph_url]
    # A wrong secret is refused before anything is saved.
    r = runner.invoke(_cli(), [*base, "--secret-stdin"], input="wrong-secret\n")
    assert r.exit_code == 1 and "refused the client secret" in r.output
    with rt.session() as s:
        assert sources.list_sources(s, Principal.deployment_operator(), "acme") == []
    monkeypatch.setenv("M365_SECRET", tenant.client_secret)
    r = runner.invoke(_cli(), [*base, "--secret-env", "M365_SECRET", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout.strip().splitlines()[-1])
    assert doc["kind"] == "graph" and doc["has_secret"] and tenant.client_secret not in r.output
    assert doc["tested"].startswith("connected to Microsoft 365 tenant")
    with rt.session() as s:
        from mailark.control.audit import list_events

        events = [e for e in list_events(s, Principal.deployment_operator(), None) if e.action == "source.create"]
        assert len(events) == 1 and tenant.client_secret not in str(events[0])

    r = runner.invoke(_cli(), ["source", "sync-m365", "m365", "--org", "acme", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout.strip().splitlines()[-1])
    assert (doc["status"], doc["archived"], doc["mailboxes"]) == ("ok", 3, 1)
    with rt.session() as s:
        from mailark.control.audit import list_events

        assert [e.target for e in list_events(s, Principal.deployment_operator(), None) if e.action == "source.run"] == ["m365"]
    assert len(items(rt)) == 3
    graph.stop()
    r = runner.invoke(_cli(), ["source", "sync-m365", "m365", "--org", "acme"])
    assert r.exit_code == 1 and "cannot reach" in r.output
    r = runner.invoke(_cli(), ["source", "sync-m365", "nope", "--org", "acme"])
    assert r.exit_code == 1 and "no source named 'nope'" in r.output
