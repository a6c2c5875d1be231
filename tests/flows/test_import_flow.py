"""The import-files flow under a real Prefect server (the test harness), and the CLI using it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


MAILARK = str(Path(sys.executable).parent / "mailark")


def _flow_runs(name: str) -> list:  # type: ignore[type-arg]
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    async def q():  # type: ignore[no-untyped-def]
        async with get_client() as c:
            return await c.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[name])))

    return asyncio.run(q())


def test_flow_archives_in_batches_without_content_in_prefect(prefect_api, rt, org, corpus: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.flows.import_files import import_files

    monkeypatch.setenv("MAILARK_BATCH_MESSAGES", "10")
    from mailark.config.settings import reset_settings_cache

    reset_settings_cache()
    src = corpus / "cpython-test_email"
    doc = import_files("acme", "ann@acme", [str(src)], None)
    assert doc["seen"] == doc["archived"] + doc["duplicates"] + doc["quarantined"] + doc["deferred"]
    assert doc["archived"] > 30
    runs = _flow_runs("import-files")
    assert runs and runs[-1].state.is_completed()
    run = runs[-1]
    assert run.name == "import into ann@acme (acme)"
    assert set(run.parameters) == {"org", "mailbox", "sources", "folder"}
    # The ledger's run id is the flow run id, so operators can go from the UI to the catalogue.
    ids = rt.lake.execute("SELECT DISTINCT run_id FROM lake.ingest_ledger").fetchall()
    assert ids == [(str(run.id),)]
    batches = rt.lake.execute("SELECT count(*) FROM lake.ingest_ledger").fetchone()[0]
    assert batches == -(-doc["seen"] // 10)
    # Prefect's own database holds no message content (no parameters, results or logs of it).
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    db = Path(PREFECT_API_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    prefect_bytes = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert b"Here is your dingus fish" in (src / "msg_07.txt").read_bytes()
    assert b"Here is your dingus fish" not in prefect_bytes and b"dingus" not in prefect_bytes


def test_cli_runs_the_flow_when_a_server_is_up(prefect_api, home, corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "MAILARK_PREFECT_API_URL": prefect_api}
    subprocess.run([MAILARK, "org", "create", "flowco"], check=True, env=env, capture_output=True)
    p = subprocess.run(
        [MAILARK, "import", str(corpus / "letters"), "--org", "flowco", "--mailbox", "x@flowco", "--json"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["archived"] > 0
    runs = [r for r in _flow_runs("import-files") if r.parameters.get("org") == "flowco"]
    assert len(runs) == 1 and runs[0].state.is_completed()
