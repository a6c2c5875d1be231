"""Fairness between organizations' bulk imports (issue 17): an import-files run holds its
organization's bulk slot, so a second import of the same organization waits while another
organization's import runs (a real Prefect server: the test harness)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest


def _limit(name: str):  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as c:
        return c.read_global_concurrency_limit_by_name(name)


def _fresh_limits(*orgs: str) -> None:
    """The Prefect test server is shared by the flow tests: start with no limit for these organizations."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as c:
        for org in orgs:
            try:
                c.delete_global_concurrency_limit_by_name(f"bulk-{org}")
            except ObjectNotFound:
                pass


@pytest.fixture
def mail_dir(corpus: Path, tmp_path: Path) -> Path:
    """Three small messages: the imports themselves are not what this test measures."""
    d = tmp_path / "mail"
    d.mkdir()
    for name in ("msg_01.txt", "msg_02.txt", "msg_03.txt"):
        shutil.copy(corpus / "cpython-test_email" / name, d / f"{name}.eml")
    return d


def test_a_second_import_of_an_organization_waits_while_another_organizations_runs(
        prefect_api, rt, org, mail_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.orgs import create_org
    from mailark.flows.import_files import import_files
    from mailark.flows.org_slots import ORG_BULK_LIMIT, ensure_org_limit, limit_name, org_bulk_slot

    with rt.session() as s:
        create_org(s, "beta", rt.master_key)
    _fresh_limits("acme", "beta")
    assert ensure_org_limit("acme") is True and ensure_org_limit("acme") is False  # created once
    assert (_limit("bulk-acme").limit, _limit("bulk-acme").active) == (ORG_BULK_LIMIT, True)

    acme_done: dict[str, object] = {}
    with org_bulk_slot("acme"):  # an import of acme is running
        waiting = threading.Thread(
            target=lambda: acme_done.update(import_files("acme", "ann@acme", [str(mail_dir)], None)), daemon=True)
        waiting.start()
        started = time.monotonic()
        beta = import_files("beta", "bob@beta", [str(mail_dir)], None)  # another organization's import proceeds
        assert beta["archived"] == 3 and time.monotonic() - started < 60
        assert _limit(limit_name("beta")).limit == ORG_BULK_LIMIT  # every organization has its own limit
        time.sleep(2)
        assert waiting.is_alive() and not acme_done  # acme's second import still waits for its slot
        acme_ledger = rt.lake.execute(
            "SELECT count(*) FROM lake.ingest_ledger WHERE org_id = ?", [org.id]).fetchone()[0]
        assert acme_ledger == 0
    waiting.join(timeout=120)  # the slot is free: acme's import runs
    assert not waiting.is_alive() and acme_done["archived"] == 3
    assert _limit("bulk-acme").active_slots == 0  # released when the run ended


def test_a_workers_run_that_cannot_have_the_slot_queues_itself_again_and_frees_its_bulk_slot(
        prefect_api, rt, org, mail_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.flow_engine import run_flow

    from mailark.flows import import_files as module
    from mailark.flows.org_slots import org_bulk_slot

    monkeypatch.setattr(module, "WAIT_SECONDS", 1.0)
    _fresh_limits("acme")
    params = {"org": "acme", "mailbox": "ann@acme", "sources": [str(mail_dir)], "folder": None}
    with get_client(sync_client=True) as c:
        flow_id = c.create_flow_from_name("import-files")
        dep = c.create_deployment(flow_id, "import-files-slots", work_queue_name="bulk",
                                  entrypoint="flows/import_files.py:import_files")
        first = c.create_flow_run_from_deployment(dep, parameters=params)
    with org_bulk_slot("acme") as held:  # another import of acme is running
        assert held
        doc = run_flow(module.import_files, flow_run=first, parameters=params)  # what the worker runs
    assert doc["deferred"] is True  # it did not wait for acme's slot: it ended, freeing its bulk slot
    assert rt.lake.execute("SELECT count(*) FROM lake.ingest_ledger").fetchone()[0] == 0
    with get_client(sync_client=True) as c:
        runs = c.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep])))
        assert c.read_flow_run(first.id).state.is_completed()
    [again] = [r for r in runs if r.id != first.id]
    assert str(again.id) == doc["next_run"] and again.parameters == params and again.state.is_scheduled()
    assert again.parent_task_run_id is None  # its own run in the bulk queue, not a child of the deferred one
    delay = (again.state.state_details.scheduled_time - first.created).total_seconds()
    assert module.REQUEUE_SECONDS - 5 < delay < module.REQUEUE_SECONDS + 60
    # Once acme's other import is done, the queued run archives (made due now: the test does not wait a minute).
    from prefect.states import Scheduled

    with get_client(sync_client=True) as c:
        c.set_flow_run_state(again.id, Scheduled(), force=True)
        again = c.read_flow_run(again.id)
    doc = run_flow(module.import_files, flow_run=again, parameters=params)
    assert doc["archived"] == 3
