"""`mailark up --role`: a node of a larger deployment starts only its share (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailark.config.settings import Settings
from mailark.supervisor import check_roles, plan


def _names(settings: Settings, roles: list[str], with_server: bool = True) -> list[str]:
    return [s.name for s in plan(settings, with_prefect_server=with_server, roles=check_roles(roles))]


def test_each_role_plans_only_its_processes(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    assert _names(settings, []) == ["prefect-server", "prefect-worker", "smtp-journal", "web"]
    assert _names(settings, ["all"]) == _names(settings, [])
    assert _names(settings, ["worker"]) == ["prefect-worker"]
    assert _names(settings, ["worker", "smtp"]) == ["prefect-worker", "smtp-journal"]
    assert _names(settings, ["web"]) == ["web"]
    assert _names(settings, ["server"]) == ["prefect-server"]
    assert _names(settings, ["server", "web"], with_server=False) == ["web"]  # a server already answers: reused
    with pytest.raises(ValueError, match="unknown role db"):
        check_roles(["db"])
    with pytest.raises(ValueError, match="--role all already runs everything"):
        check_roles(["all", "web"])


def test_two_workers_on_one_machine_have_distinct_names(tmp_path: Path) -> None:
    worker = plan(Settings(home=tmp_path / "home"), roles={"worker"})[0]
    name = worker.argv[worker.argv.index("--name") + 1]
    assert name.endswith(f"-{__import__('os').getpid()}")


def test_a_worker_node_without_a_prefect_server_says_what_to_do(home, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.cli import app

    monkeypatch.setenv("MAILARK_PREFECT_API_URL", "http://127.0.0.1:9/api")  # nothing answers there
    r = CliRunner().invoke(app, ["up", "--role", "worker"])
    assert r.exit_code == 1
    assert "a worker node needs the deployment's Prefect server" in r.stderr and "--role server" in r.stderr
    r = CliRunner().invoke(app, ["up", "--role", "database"])
    assert r.exit_code == 2 and "unknown role database" in r.stderr


def test_flow_runs_send_heartbeats_and_a_lost_run_is_queued_again(tmp_path: Path) -> None:
    """A flow run whose machine died must not stay "Running" for ever (issue 17): the children of a node
    send heartbeats, and the automation each worker node installs is one the Prefect server accepts."""
    from prefect.server.events.schemas.automations import AutomationCore

    from mailark.supervisor import child_env, pending_recovery_automation, recovery_automation

    assert int(child_env(Settings(home=tmp_path / "home"))["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"]) >= 30
    spec = AutomationCore.model_validate(recovery_automation(lost_after=120))
    assert spec.trigger.within.total_seconds() == 120  # type: ignore[union-attr]
    [action] = spec.actions
    assert (action.type, action.state.value, action.name) == ("change-flow-run-state", "SCHEDULED", "AwaitingRetry")  # type: ignore[union-attr]
    # and a run its worker took but never started (the worker died first) is queued again as well
    pending = AutomationCore.model_validate(pending_recovery_automation(lost_after=120))
    assert pending.trigger.after == {"prefect.flow-run.Pending"}  # type: ignore[union-attr]
    assert pending.trigger.posture.value == "Proactive" and pending.trigger.within.total_seconds() == 120  # type: ignore[union-attr]
    assert [(a.type, a.state.value) for a in pending.actions] == [("change-flow-run-state", "SCHEDULED")]  # type: ignore[union-attr]
