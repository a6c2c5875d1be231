"""The work queues of the `mailark` pool, their priorities and limits (issue 17: fairness).

A worker with a free slot takes the next run from the queue with the lowest priority number first:
journal drains (every organization's compliance mail, a minute's worth each) before anything else,
bulk file imports (an organization's 2 TB PST) last and at most BULK_LIMIT at once, so an import
never fills every slot of the worker. `prefect deploy` creates a queue a deployment names with no
priority of ours; `mailark up` runs this module first (one process, idempotent).

    python -m mailark.work_queues        # with PREFECT_API_URL set
"""

from __future__ import annotations

import asyncio

WORK_POOL = "mailark"
BULK_LIMIT = 2
# name -> (priority, concurrency limit or None); prefect.yaml names these queues.
QUEUES: dict[str, tuple[int, int | None]] = {
    "journal": (1, None),
    "control": (2, None),
    "ingest": (3, None),
    "search": (4, None),
    "operations": (5, None),
    "exports": (6, None),
    "maintenance": (7, None),
    "bulk": (8, BULK_LIMIT),
}


async def ensure_queues(pool: str = WORK_POOL) -> list[str]:
    """Create or correct every queue of QUEUES in `pool`; returns the names it changed."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    changed = []
    async with get_client() as client:
        for name, (priority, limit) in QUEUES.items():
            try:
                q = await client.read_work_queue_by_name(name, work_pool_name=pool)
            except ObjectNotFound:
                await client.create_work_queue(name, work_pool_name=pool, priority=priority, concurrency_limit=limit)
                changed.append(name)
                continue
            if q.priority != priority or q.concurrency_limit != limit:
                await client.update_work_queue(q.id, priority=priority, concurrency_limit=limit)
                changed.append(name)
    return changed


if __name__ == "__main__":
    print("work queues set:", ", ".join(asyncio.run(ensure_queues())) or "none changed")
