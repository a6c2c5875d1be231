"""Running the service: the demo, `mailark up`, the web app, status and the embedded Prefect server."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mailark.cli.common import JsonOpt, cli_runtime, err, fail, guard, out, prefect_running, print_json, usable_home
from mailark.config.settings import get_settings


def register(app: typer.Typer) -> None:
    for name, fn in (("demo", demo), ("web", web), ("up", up), ("status", status)):
        app.command(name)(fn)
    app.add_typer(server_app, name="server")

# ---- demo -------------------------------------------------------------------------------------


def import_line(doc: dict[str, int], corpus: Path | str) -> str:
    """`1,579 seen: 0 archived, 1,579 duplicates, ...`: counts with thousands separators."""
    return (f"{doc['seen']:,} seen in {corpus}: {doc['archived']:,} archived, {doc['duplicates']:,} duplicates, "
            f"{doc['quarantined']:,} quarantined (raw bytes kept, with reasons)")


def storage_line(taken: int, stored: int) -> str:
    """What the archive took in and what it stores; a saving only when there is one (never `-1263% saved`)."""
    line = f"{taken:,} bytes taken in -> {stored:,} bytes stored (deduplicated, compressed, encrypted; catalogue included)"
    if taken and stored < taken:
        return line + f": {1 - stored / taken:.0%} saved"
    return line + ": a few messages cost more than they save (the catalogue's fixed size); the saving shows on real mailboxes"


def demo(
    corpus: Annotated[Path, typer.Option(help="Sample mail to archive.")] = Path("../shared/corpus"),
    org: Annotated[str, typer.Option(help="Demo organization name.")] = "demo",
    no_server: Annotated[bool, typer.Option("--no-server", help="Do not start a Prefect server.")] = False,
    no_web: Annotated[bool, typer.Option("--no-web", help="Do not start the web app.")] = False,
) -> None:
    """Start the embedded default and the web app, archive sample mail through the import flow, say where to look."""
    from mailark.control.orgs import Conflict, create_org
    from mailark.operations import prefect_server, web_background

    settings = usable_home()
    if not corpus.exists():
        fail(f"no sample mail at {corpus}: pass --corpus DIR")
    mailark = Path(sys.executable).parent / "mailark"
    if not no_server:
        if prefect_server.is_up(settings.prefect_api_url):
            err.print(f"using the Prefect server at {prefect_server.ui_url(settings)}", highlight=False)
        else:
            err.print("starting the Prefect server (the first start takes a while)...")
            try:
                prefect_server.start_background(settings)
            except RuntimeError as e:
                fail(str(e))
    rt = cli_runtime()
    password = None
    try:
        with rt.session() as s:
            created = create_org(s, org, rt.master_key)
        admin, password = created.admin_login, created.admin_password
        err.print(f"created organization {org}; its first admin is {admin}", highlight=False)
    except Conflict:
        admin = f"admin@{org}"
        err.print(f"organization {org} exists; importing again shows deduplication at work", highlight=False)
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
    from mailark.cli.archive import index_archived

    rt = cli_runtime()
    archive = rt.archive_for(rt.org(org))
    # Searchable now, on the pages too: the demo starts no worker for the index-mail flow. An index
    # that cannot be written is a warning: the mail is archived and the rest of the demo stands.
    index_archived(rt, org)
    st = org_stats(archive)
    taken = st["raw_bytes"] + st["quarantined_bytes"]
    script = settings.home / "attach.sql"
    script.write_text(analyst_script(location(settings, rt.store)))
    rt.close()
    web_started = False
    if not no_web:
        err.print(f"starting the web app on {web_background.web_url(settings)} ..." if not web_background.is_up(settings)
                  else f"the web app answers on {web_background.web_url(settings)}", highlight=False)
        try:
            web_started = web_background.start_background(settings)
        except RuntimeError as e:
            err.print(f"[yellow]warning:[/] {e}", highlight=False, soft_wrap=True)
            no_web = True
    query = "SELECT folder, count(*) AS copies FROM mailbox_items GROUP BY ALL ORDER BY 2 DESC LIMIT 10"
    say = lambda text: out.print(text, soft_wrap=True, highlight=False)  # noqa: E731 - long lines stay pasteable
    say("")
    say(f"[bold]archived[/] {import_line(doc, corpus)}")
    say(f"[bold]storage[/] {storage_line(taken, st['stored_bytes'])}")
    say(f"[bold]home[/] {settings.home}  (objects/: ciphertext only; db/: the key room)")
    if not no_web:
        how = (f"the one-time password {password}" if password else
               f"the one-time password the first demo printed (or a new one: {mailark} user reset-password {admin} --org {org})")
        say(f"[bold]log in[/] {web_background.web_url(settings)}/login as {admin} with {how}")
    say(f"[bold]search it[/] {mailark} search query --org {org} 'has:attachment'  (or the web app's search box)")
    say("[bold]query it[/] from plain DuckDB (read-only; the extensions load from this install):")
    say(f"  {sys.executable} -c \"import duckdb; c = duckdb.connect(); c.execute(open('{script}').read()); "
        f"print(c.sql('{query}'))\"")
    say(f"  duckdb -init {script}      (with the DuckDB command-line tool)")
    say(f"  {mailark} sql \"{query}\"")
    if not no_server:
        say(f"[bold]Prefect UI[/] {prefect_server.ui_url(settings)}  (the import-files flow run is there)")
    if web_started or not no_server:
        say(f"[bold]stop[/] what the demo started: {mailark} server stop")
    say(f"[bold]the whole stack[/] (every scheduled flow, the SMTP journal endpoint, the REST API): {mailark} up")
    say(f"[bold]next[/] use this mailark in your shell: source {Path(sys.executable).parent / 'activate'}")


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
    """Stop the background Prefect server (and the demo's web app) started by mailark."""
    from mailark.operations import prefect_server, web_background

    settings = get_settings()
    web = web_background.stop_background(settings)
    stopped = prefect_server.stop_background(settings)
    if web:
        out.print("stopped the web app")
    out.print("stopped" if stopped else "no server started by mailark is running")
