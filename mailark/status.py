"""`mailark status`: what `mailark up` runs, whether each part answers, and each flow's last run."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from mailark.operations import prefect_server
from mailark.config.settings import Settings
from mailark.supervisor import state_path


@dataclass(frozen=True)
class ServiceState:
    name: str
    pid: int | None
    listens: str
    running: bool


@dataclass(frozen=True)
class FlowRunState:
    deployment: str
    flow_run: str
    state: str
    started: datetime | None
    ended: datetime | None
    message: str | None


@dataclass(frozen=True)
class Status:
    up: bool
    supervisor_pid: int | None
    services: list[ServiceState]
    prefect: str  # "up at URL" or why not
    last_runs: list[FlowRunState]

    def as_dict(self) -> dict[str, Any]:
        return {
            "up": self.up, "supervisor_pid": self.supervisor_pid, "prefect": self.prefect,
            "services": [asdict(s) for s in self.services], "last_runs": [asdict(r) for r in self.last_runs],
        }


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _last_runs() -> list[FlowRunState]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    runs: list[FlowRunState] = []
    async with get_client() as client:
        for dep in sorted(await client.read_deployments(), key=lambda d: d.name):
            found = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=5,
            )
            done = [r for r in found if r.state is not None and r.state.type.value not in ("SCHEDULED",)]
            if not done:
                runs.append(FlowRunState(dep.name, "", "never ran", None, None, None))
                continue
            r = done[0]
            assert r.state is not None
            runs.append(FlowRunState(dep.name, r.name, r.state.name, r.start_time, r.end_time, r.state.message))
    return runs


def read_status(settings: Settings) -> Status:
    path = state_path(settings)
    doc = json.loads(path.read_text()) if path.is_file() else {}
    sup = doc.get("supervisor_pid")
    up = _alive(sup)
    services = [
        ServiceState(s["name"], s.get("pid"), s.get("listens", ""), up and _alive(s.get("pid")))
        for s in doc.get("services", [])
    ]
    runs: list[FlowRunState] = []
    if prefect_server.is_up(settings.prefect_api_url):
        prefect = f"up at {prefect_server.ui_url(settings)}"
        os.environ.update(prefect_server.prefect_env(settings))
        try:
            runs = asyncio.run(_last_runs())
        except Exception as e:  # noqa: BLE001 - status must report, not crash
            prefect += f" (could not read flow runs: {e})"
    else:
        prefect = f"not answering at {settings.prefect_api_url}"
    return Status(up, sup if up else None, services, prefect, runs)
