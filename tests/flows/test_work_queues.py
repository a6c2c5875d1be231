"""The work queues' priorities on a real Prefect server (issue 17): a worker polling the `mailark`
pool is handed a waiting journal drain before bulk imports that were queued earlier, and never more
bulk runs at once than the bulk queue's limit."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone


def test_a_worker_gets_the_journal_run_before_earlier_bulk_imports(prefect_api) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.states import Running, Scheduled

    from mailark.work_queues import BULK_LIMIT, WORK_POOL, ensure_queues

    async def scenario() -> tuple[list[str], list[str]]:
        async with get_client() as c:
            try:
                await c.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process"))
            except ObjectAlreadyExists:
                pass
            await ensure_queues(WORK_POOL)
            flow_id = await c.create_flow_from_name("queue-order-probe")
            deps = {q: await c.create_deployment(flow_id, f"probe-{q}", work_pool_name=WORK_POOL, work_queue_name=q)
                    for q in ("bulk", "journal")}
            now = datetime.now(timezone.utc)
            names: dict[object, str] = {}
            # Three PST imports queued a minute ago, then one journal drain due now.
            for i in range(3):
                run = await c.create_flow_run_from_deployment(
                    deps["bulk"], state=Scheduled(scheduled_time=now - timedelta(minutes=1, seconds=-i)))
                names[run.id] = f"bulk {i}"
            run = await c.create_flow_run_from_deployment(deps["journal"], state=Scheduled(scheduled_time=now))
            names[run.id] = "journal"

            async def poll() -> list[str]:  # what a worker of the pool asks for
                got = await c.get_scheduled_flow_runs_for_work_pool(
                    WORK_POOL, scheduled_before=datetime.now(timezone.utc) + timedelta(seconds=5))
                return [names[r.flow_run.id] for r in got if r.flow_run.id in names]

            first = await poll()
            # Two imports start (the bulk queue's limit): the third waits even though a worker asks.
            for rid, name in list(names.items()):
                if name in ("bulk 0", "bulk 1"):
                    await c.set_flow_run_state(rid, Running(), force=True)
            second = await poll()
            return first, second

    first, second = asyncio.run(scenario())
    assert BULK_LIMIT == 2
    assert first[0] == "journal", first  # queued last, handed first
    assert sorted(first[1:]) == ["bulk 0", "bulk 1"], first  # and at most BULK_LIMIT bulk runs
    assert second == ["journal"], second  # both bulk slots taken: no third import
