"""The meter-usage, close-billing and report-usage flows under a real Prefect server (the test harness)."""

from __future__ import annotations

from pathlib import Path


from mailark.control.models import GB
from mailark.config.settings import reset_settings_cache
from tests.control.conftest import make_tenant
from tests.metering.conftest import add_object, delete_object
from tests.peers.usage_portal import run_portal


def _runs(name: str) -> list:  # type: ignore[type-arg]
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    async def q():  # type: ignore[no-untyped-def]
        async with get_client() as c:
            return await c.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[name])))

    return asyncio.run(q())


def test_meter_usage_flow_pauses_at_100_and_resumes(prefect_api, rt) -> None:  # type: ignore[no-untyped-def]
    from mailark.flows.metering import close_billing_flow, meter_usage

    a = make_tenant(rt, "acme", users=5, storage_gb=10)
    make_tenant(rt, "globex", users=5, storage_gb=10)
    big = add_object(rt, a.org.id, int(10.2 * GB))
    docs = {d["org"]: d for d in meter_usage()}
    assert set(docs) == {"acme", "globex"}
    assert docs["acme"]["mode"] == "full" and docs["acme"]["outcome"]["paused"]
    assert not docs["globex"]["outcome"]["paused"]
    delete_object(rt, a.org.id, big)
    (doc,) = meter_usage("acme")
    assert doc["mode"] == "incremental" and doc["rows_read"] == 1 and doc["outcome"]["changed"] == "resumed"
    runs = _runs("meter-usage")
    assert len(runs) == 2 and all(r.state.is_completed() for r in runs)
    assert {r.name for r in runs} == {"meter usage (all)", "meter usage (acme)"}

    recs = close_billing_flow()
    assert {(r["org"], r["storage_gb"], r["billable"]) for r in recs} == {("acme", 10, True), ("globex", 10, True)}


def test_report_usage_flow_delivers_through_the_outbox(prefect_api, rt, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.flows.usage_report import report_usage_flow

    make_tenant(rt, "acme")
    with run_portal(tmp_path) as portal:
        monkeypatch.setenv("MAILARK_USAGE_PORTAL__URL", portal.url)
        monkeypatch.setenv("MAILARK_USAGE_PORTAL__TOKEN", "flow-token-123")
        monkeypatch.setenv("MAILARK_USAGE_PORTAL__CA_FILE", str(portal.ca_file))
        monkeypatch.setenv("MAILARK_USAGE_PORTAL__BACKOFF_SECONDS", "0")
        reset_settings_cache()
        portal.script = ["500"]
        first = report_usage_flow()
        assert (first["enqueued"], first["sent"], first["failed"]) == (1, 0, 1)
        second = report_usage_flow()
        assert (second["enqueued"], second["sent"], second["pending"]) == (0, 1, 0)
    assert len(portal.accepted) == 1
    assert all(r.state.is_completed() for r in _runs("report-usage"))


def test_deployments_declare_schedules_and_one_run_at_a_time() -> None:
    import yaml
    from prefect.cli.deploy._models import PrefectYamlModel

    doc = PrefectYamlModel.model_validate(yaml.safe_load((Path(__file__).parents[2] / "prefect.yaml").read_text()))
    deps = {d.name: d for d in doc.deployments}
    for name in ("meter-usage", "meter-usage-full", "close-billing", "report-usage"):
        d = deps[name]
        assert d.schedules and d.concurrency_limit.limit == 1, name  # type: ignore[union-attr]
    assert deps["meter-usage"].schedules[0].interval.total_seconds() == 900  # type: ignore[index,union-attr]
