"""Running the service: the demo, `mailark up`, the web app, status and the embedded Prefect server."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mailark.cli.common import JsonOpt, cli_runtime, err, fail, guard, out, prefect_running, print_json
from mailark.config.settings import get_settings


def register(app: typer.Typer) -> None:
    for name, fn in (("demo", demo), ("web", web), ("up", up), ("status", status)):
        app.command(name)(fn)
    app.add_typer(server_app, name="server")

# ---- demo -------------------------------------------------------------------------------------


def demo(
    corpus: Annotated[Path, typer.Option(help="Sample mail to archive.")] = Path("../shared/corpus"),
    org: Annotated[str, typer.Option(help="Demo organization name.")] = "demo",
    no_server: Annotated[bool, typer.Option("--no-server", help="Do not start a Prefect server.")] = False,
) -> None:
    """Start the embedded default, archive sample mail through the import flow, and say where to look."""
    from mailark.control.orgs import Conflict, create_org
    from mailark.operations import prefect_server

    settings = get_settings()
    settings.ensure_dirs()
    if not corpus.exists():
        fail(f"no sample mail at {corpus}: pass --corpus DIR")
    if not no_server:
        err.print("starting the Prefect server (first start takes a while)...")
        try:
            prefect_server.start_background(settings)
        except RuntimeError as e:
            fail(str(e))
    rt = cli_runtime()
    try:
        with rt.session() as s:
            created = create_org(s, org, rt.master_key)
        err.print(f"created organization {org}; its first admin is {created.admin_login} "
                  f"(one-time password {created.admin_password})", soft_wrap=True, highlight=False)
    except Conflict:
        err.print(f"organization {org} exists; importing again shows deduplication at work")
    mailbox = f"archive@{org}"
    rt.close()
    if not no_server and prefect_running():
        from mailark.flows.import_files import import_files

        doc = guard(lambda: import_files(org, mailbox, [str(corpus.resolve())], None))
    else:
        from mailark.sources.files.importing import run_import

        doc = guard(lambda: run_import(rt, org, mailbox, [corpus], None)).as_dict()
    from mailark.catalog.lake import analyst_script, location
    from mailark.catalog.stats import org_stats

    rt = cli_runtime()
    st = org_stats(rt.archive_for(rt.org(org)))
    taken = st["raw_bytes"] + st["quarantined_bytes"]
    saved = 1 - st["stored_bytes"] / taken if taken else 0
    script = settings.home / "attach.sql"
    script.write_text(analyst_script(location(settings, rt.store)))
    query = "SELECT folder, count(*) AS copies FROM mailbox_items GROUP BY ALL ORDER BY 2 DESC LIMIT 10"
    say = lambda text: out.print(text, soft_wrap=True, highlight=False)  # noqa: E731 - long lines stay pasteable
    say("")
    say(f"[bold]archived[/] {doc['seen']} items from {corpus}: {doc['archived']} archived, "
        f"{doc['duplicates']} duplicates, {doc['quarantined']} quarantined (raw bytes kept, with reasons)")
    say(f"[bold]storage[/] {taken:,} bytes taken in -> {st['stored_bytes']:,} bytes stored "
        f"(deduplicated, compressed, encrypted; catalogue included): {saved:.0%} saved")
    say(f"[bold]home[/] {settings.home}  (objects/: ciphertext only; db/: the key room)")
    say("[bold]query it[/] from plain DuckDB (read-only; the extensions load from this install):")
    say(f"  {sys.executable} -c \"import duckdb; c = duckdb.connect(); c.execute(open('{script}').read()); "
        f"print(c.sql('{query}'))\"")
    say(f"  duckdb -init {script}      (with the DuckDB command-line tool)")
    say(f"  {Path(sys.executable).parent / 'mailark'} sql \"{query}\"")
    if not no_server:
        say(f"[bold]Prefect UI[/] {prefect_server.ui_url(settings)}  (the import-files flow run is there; "
            f"stop the server: {Path(sys.executable).parent / 'mailark'} server stop)")
    say(f"[bold]the whole stack[/] (every scheduled flow, the SMTP journal endpoint, the REST API): "
        f"{Path(sys.executable).parent / 'mailark'} up")


TlsCertOpt = Annotated[Path | None, typer.Option("--tls-cert", help="PEM certificate chain: serve HTTPS "
                                                 "(default: settings web.tls_cert).")]
TlsKeyOpt = Annotated[Path | None, typer.Option("--tls-key", help="Its PEM private key (default: settings "
                                                "web.tls_key).")]


def _with_tls(settings: Any, cert: Path | None, key: Path | None) -> Any:
    """The settings with the command line's certificate and key over the configured ones, checked."""
    from mailark.config.settings import WebSettings
    from mailark.dashboards.tls import TlsConfigError, check_tls

    web = WebSettings(tls_cert=cert or settings.web.tls_cert, tls_key=key or settings.web.tls_key)
    try:
        check_tls(web.tls_cert, web.tls_key)
    except TlsConfigError as e:
        fail(str(e))
    return settings.model_copy(update={"web": web})


def web(
    host: Annotated[str | None, typer.Option(help="Listen address (default: settings web_host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings web_port, 8080).")] = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json) in the foreground until Ctrl-C; HTTPS with a certificate."""
    from mailark.dashboards.app import serve

    settings = _with_tls(get_settings(), tls_cert, tls_key)
    serve(settings, host, port, settings.web.tls_cert, settings.web.tls_key)


def up(
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    role: Annotated[list[str] | None, typer.Option(
        "--role", help="This node's share: all (default), or any of server, worker, smtp, web (repeat --role).",
    )] = None,
) -> None:
    """Start the embedded stack (Prefect server and worker, SMTP journal endpoint, web app) until Ctrl-C;
    on a node of a larger deployment, only its roles."""
    from mailark.supervisor import check_roles, run_up

    try:
        roles = check_roles(role or [])
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--role") from None
    settings = _with_tls(get_settings(), tls_cert, tls_key)
    try:
        run_up(settings, lambda text: err.print(text, highlight=False, soft_wrap=True), roles)
    except (RuntimeError, FileNotFoundError) as e:
        fail(str(e))


def status(as_json: JsonOpt = False) -> None:
    """What `mailark up` runs, whether each part answers, and the last run of each flow."""
    from mailark.status import read_status

    st = read_status(get_settings())
    if as_json:
        print_json(st.as_dict())
        return
    out.print(f"[bold]mailark up[/] {'running (pid %d)' % st.supervisor_pid if st.up else 'not running'}")
    for svc in st.services:
        out.print(f"  {svc.name:<15} {'running' if svc.running else 'stopped':<8} {svc.listens}", highlight=False)
    out.print(f"[bold]Prefect[/] {st.prefect}", highlight=False)
    if st.last_runs:
        table = Table("deployment", "last run", "state", "started", "ended")
        for r in st.last_runs:
            table.add_row(r.deployment, r.flow_run, r.state, _when(r.started), _when(r.ended))
        out.print(table)


def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S") if dt else ""


server_app = typer.Typer(no_args_is_help=True, help="The embedded Prefect server.")


@server_app.command("start")
def server_start() -> None:
    """Start the Prefect server in the background (db/prefect, logs/prefect-server.log)."""
    from mailark.operations import prefect_server

    settings = get_settings()
    try:
        started = prefect_server.start_background(settings)
    except RuntimeError as e:
        fail(str(e))
    out.print(("started" if started else "already running") + f": {prefect_server.ui_url(settings)}")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the background Prefect server started by mailark."""
    from mailark.operations import prefect_server

    stopped = prefect_server.stop_background(get_settings())
    out.print("stopped" if stopped else "no server started by mailark is running")
