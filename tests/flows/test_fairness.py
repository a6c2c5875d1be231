"""Fairness between organizations in the journal drain (issue 17): a big SMTP import of one
organization does not hold back the journal of another, and a drain run ends in bounded time."""

from __future__ import annotations

import pytest

from mailark.sources.journal import drops
from tests.control.conftest import cheap_argon2  # noqa: F401 - autouse: first admins hashed cheaply

# The journal tests' fixtures: a home with the journal domain and certificate, its runtime (jrt).
from tests.sources.journal.conftest import DOMAIN, cert_files, jhome, jrt  # noqa: F401

IMPORT_DROPS = 24


def _drop(rt, org, route, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    meta = drops.DropMeta(kind=route.kind, profile_id=route.profile_id, profile_name=route.profile_name,
                          mailbox=route.mailbox, folder=route.folder, mail_from="sender@example.net",
                          rcpt_tos=[route.address], peer="127.0.0.1")
    drops.write(rt.store, rt.archive_for(org).sealer, org.id, meta, raw)


@pytest.fixture
def two_orgs(jrt, monkeypatch):  # type: ignore[no-untyped-def]  # noqa: F811
    """'big' (sorted first) with an SMTP import of many drops waiting, 'small' with one journal drop."""
    from mailark.config.settings import reset_settings_cache
    from mailark.control.identity import add_domain
    from mailark.control.mailboxes import create_mailbox
    from mailark.control.orgs import create_org
    from mailark.control.principals import Principal
    from mailark.sources.journal.profiles import add_import, add_journal, load_routes

    monkeypatch.setenv("MAILARK_BATCH_MESSAGES", "3")  # many small batches: a long import
    reset_settings_cache()
    op = Principal.deployment_operator()
    orgs = {}
    with jrt.session() as s:
        for name in ("big", "small"):
            org, _ = create_org(s, name, jrt.master_key, users=10, storage_gb=10)
            add_domain(s, op, org, f"{name}.com")
            create_mailbox(s, op, org, f"alice@{name}.com")
            s.expunge(org)
            orgs[name] = org
        add_import(s, op, orgs["big"], jrt.master_key, DOMAIN, mailbox="alice@big.com")
        add_journal(s, op, orgs["small"], jrt.master_key, DOMAIN, allow_networks=["127.0.0.0/8"])
    with jrt.session() as s:
        routes = {r.org_name: r for r in load_routes(s, jrt.master_key, DOMAIN).values()}
    for i in range(IMPORT_DROPS):
        _drop(jrt, orgs["big"], routes["big"],
              f"From: bob@big.com\r\nTo: alice@big.com\r\nSubject: old mail {i}\r\n\r\nbody {i}\r\n".encode())
    _drop(jrt, orgs["small"], routes["small"],
          b"From: carol@small.com\r\nTo: alice@small.com\r\nSubject: journaled\r\n\r\ncompliance wants this\r\n")
    jrt.store.flush()
    return orgs


def _finished(rt, org_id: str) -> list:  # type: ignore[type-arg]
    return [r[0] for r in rt.lake.execute(
        "SELECT finished_at FROM lake.ingest_ledger WHERE org_id = ? ORDER BY finished_at", [org_id]).fetchall()]


def test_small_journal_is_drained_before_a_big_import_of_another_org(prefect_api, jrt, two_orgs) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from mailark.flows.journal_drain import journal_drain

    big, small = two_orgs["big"], two_orgs["small"]
    done = {d["org"]: d for d in journal_drain(import_seconds=None)}
    assert done["small"]["removed"] == 1 and done["big"]["removed"] == IMPORT_DROPS
    big_batches, small_batches = _finished(jrt, big.id), _finished(jrt, small.id)
    assert len(big_batches) == IMPORT_DROPS // 3 and len(small_batches) == 1
    # The journal of 'small' was archived before the first batch of big's import, not after all of them.
    assert small_batches[0] < big_batches[0]


def test_a_drain_run_bounds_import_work_so_the_next_run_serves_journals(prefect_api, jrt, two_orgs) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from mailark.flows.journal_drain import journal_drain

    big, small = two_orgs["big"], two_orgs["small"]
    first = {d["org"]: d for d in journal_drain(import_seconds=0)}
    # The journal is drained whole; the import makes progress (one batch) and the rest waits.
    assert first["small"]["removed"] == 1 and drops.pending(jrt.store, small.id) == []
    assert first["big"]["removed"] == 3 and len(drops.pending(jrt.store, big.id)) == IMPORT_DROPS - 3
    second = {d["org"]: d for d in journal_drain(import_seconds=None)}
    assert second["big"]["removed"] == IMPORT_DROPS - 3 and drops.pending(jrt.store, big.id) == []


def test_every_queue_of_prefect_yaml_has_a_priority_journal_first_bulk_last() -> None:
    from pathlib import Path

    import yaml

    from mailark.work_queues import QUEUES

    doc = yaml.safe_load((Path(__file__).parents[2] / "prefect.yaml").read_text())
    queue = {d["name"]: d["work_pool"]["work_queue_name"] for d in doc["deployments"]}
    assert set(queue.values()) <= set(QUEUES)
    assert queue["journal-drain"] == "journal" and queue["import-files"] == "bulk"
    ranks = sorted(QUEUES, key=lambda q: QUEUES[q][0])
    assert ranks[0] == "journal" and ranks[-1] == "bulk" and QUEUES["bulk"][1] is not None


def test_ensure_queues_sets_priorities_and_the_bulk_limit_on_a_real_server(prefect_api) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    from mailark.work_queues import BULK_LIMIT, QUEUES, ensure_queues

    async def go() -> dict[str, tuple[int, int | None]]:
        async with get_client() as c:
            await c.create_work_pool(WorkPoolCreate(name="fair-pool", type="process"))
            await c.create_work_queue("bulk", work_pool_name="fair-pool")  # as `prefect deploy` would: no priority of ours
        assert set(await ensure_queues("fair-pool")) == set(QUEUES)
        assert await ensure_queues("fair-pool") == []  # idempotent
        async with get_client() as c:
            qs = await c.read_work_queues(work_pool_name="fair-pool")
        return {q.name: (q.priority, q.concurrency_limit) for q in qs if q.name in QUEUES}

    got = asyncio.run(go())
    assert got == QUEUES and got["bulk"][1] == BULK_LIMIT
