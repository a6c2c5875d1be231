"""`mailark source ...`: the mail source profiles every kind shares (list, show, enable, test, remove).

Each kind adds its own `add-<kind>` and `sync-<kind>` commands (mailark/cli/sources_<kind>.py,
wired in `register`). The CLI acts as the deployment operator, audited.
"""

from __future__ import annotations

from typing import Any

import typer

from mailark.cli.common import JsonOpt, OrgOpt, act, emit, fail, table

source_app = typer.Typer(no_args_is_help=True, help="Mail sources (IMAP, Microsoft 365, SMTP journal, SMTP import).")


def register(app: typer.Typer) -> None:
    from mailark.cli import sources_graph, sources_imap

    for kind in (sources_imap, sources_graph):
        kind.register(source_app)
    app.add_typer(source_app, name="source")


def _row(v: Any) -> dict[str, Any]:
    d = v.as_dict()
    d.pop("id")
    return d


@source_app.command("list")
def source_list(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """The organization's mail sources and how their last run went."""
    from mailark.control.sources import list_sources

    rows = [_row(v) for v in act(lambda s, p, rt: list_sources(s, p, org))]
    emit(rows, as_json, table(rows, "name", "kind", "enabled", "last_status", "last_run_at", "paused_reason", "last_error"))


@source_app.command("show")
def source_show(name: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """One source: its settings (never its credentials), schedule and last run."""
    from mailark.control.sources import get_source

    row = _row(act(lambda s, p, rt: get_source(s, p, org, name)))
    emit(row, as_json, "\n".join(f"[bold]{k}[/] {'' if v is None else v}" for k, v in row.items()))


def _set_enabled(name: str, org: str, enabled: bool, as_json: bool) -> None:
    from mailark.control.sources import update_source

    row = _row(act(lambda s, p, rt: update_source(s, p, org, name, rt.master_key, enabled=enabled)))
    emit(row, as_json, f"source {name} {'enabled' if enabled else 'disabled'}")


@source_app.command("enable")
def source_enable(name: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Run the source on its schedule again (its next run is due at once)."""
    _set_enabled(name, org, True, as_json)


@source_app.command("disable")
def source_disable(name: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Stop running the source; what it archived stays."""
    _set_enabled(name, org, False, as_json)


@source_app.command("remove")
def source_remove(name: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Remove the source and where it left off; what it archived stays archived."""
    from mailark.control.sources import remove_source

    act(lambda s, p, rt: remove_source(s, p, org, name))
    emit({"removed": name}, as_json, f"source {name} removed (its archived mail stays)")


@source_app.command("test")
def source_test(name: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Connect and log in as a run would, and say what answered."""
    from mailark.sources.kinds import test_source

    ok, message = act(lambda s, p, rt: test_source(s, p, org, name, rt.master_key))
    if not ok:
        fail(f"source {name}: {message}")
    emit({"ok": True, "message": message}, as_json, f"source {name}: {message}")
