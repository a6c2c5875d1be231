"""The `mailark` command.

Exit status: 0 on success (quarantined messages included), 1 on failure, 2 on wrong usage.
Errors go to stderr in words a person understands; with --json, stdout holds exactly one JSON
document and progress goes to stderr. Without a running Prefect server the commands run the
plain code (no temporary server is started); with one, work runs as a flow and shows in its UI.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from mailark.config.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="mailark: multi-tenant email archive.")
org_app = typer.Typer(no_args_is_help=True, help="Organizations (tenants).")
app.add_typer(org_app, name="org")

err = Console(stderr=True)
out = Console()
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
OrgOpt = Annotated[str, typer.Option("--org", help="Organization name.")]


def _fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


def _json_default(o: Any) -> Any:
    if isinstance(o, datetime | date):
        return o.isoformat()
    if isinstance(o, Decimal):
        return float(o)
    if isinstance(o, bytes):
        return o.hex()
    return str(o)


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, default=_json_default, ensure_ascii=False) + "\n")


def _guard(fn: Callable[[], T]) -> T:
    """Turn the errors we expect into a clear message and exit status 1."""
    from mailark.catalog.lake import LakeError
    from mailark.control.orgs import ControlError
    from mailark.storage.crypto import IntegrityError
    from mailark.storage.keys import KeyUnavailable
    from mailark.storage.objects import ObjectStoreError

    try:
        return fn()
    except (ControlError, LakeError, ObjectStoreError, KeyUnavailable, IntegrityError) as e:
        _fail(str(e))


def _runtime():  # type: ignore[no-untyped-def]
    from mailark.runtime import open_runtime

    return open_runtime(get_settings())


def _prefect_running() -> bool:
    from mailark.runtime.prefect_server import is_up, prefect_env

    settings = get_settings()
    if not is_up(settings.prefect_api_url):
        return False
    settings.ensure_dirs()
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ.update(prefect_env(settings))
    return True


# ---- org --------------------------------------------------------------------------------------


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Argument(help="Name = default domain: a-z 0-9 _ -")],
    users: Annotated[int | None, typer.Option("--users", help="Licensed users (default: a small trial licence).")] = None,
    storage_gb: Annotated[int | None, typer.Option("--storage-gb", help="Storage tier in GB: 10, 25, 50, 100, 250, ...")] = None,
    per_user: Annotated[int | None, typer.Option("--mailboxes-per-user", help="Archive mailboxes per licensed user.")] = None,
    trial: Annotated[bool, typer.Option("--trial", help="Start a 30-day trial (the default without --users/--storage-gb).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an organization, its keys, licence and first admin (admin@NAME, one-time password printed once)."""
    from mailark.control.licensing import view
    from mailark.control.orgs import create_org

    rt = _runtime()

    def run() -> dict[str, Any]:
        with rt.session() as s:
            created = create_org(s, name, rt.master_key, users=users, storage_gb=storage_gb,
                                 mailboxes_per_user=per_user, trial=True if trial else None)
            org, lic = created.org, view(s, created.org)
            return {"id": org.id, "name": org.name, "storage_quota_bytes": org.storage_quota_bytes,
                    "licence": lic.as_dict(), "admin": created.admin_login, "admin_password": created.admin_password}

    doc = _guard(run)
    if as_json:
        _print_json(doc)
    else:
        lic = doc["licence"]
        trial_note = f", trial until {lic['trial_ends_at']:%Y-%m-%d}" if lic["status"] == "trial" else ""
        out.print(f"created organization [bold]{doc['name']}[/] (id {doc['id']}): {lic['licensed_users']} users, "
                  f"{lic['storage_gb']} GB{trial_note}")
        out.print(f"first admin [bold]{doc['admin']}[/], one-time password: {doc['admin_password']}", highlight=False)


@org_app.command("list")
def org_list(as_json: JsonOpt = False) -> None:
    """List organizations."""
    from mailark.control.orgs import list_orgs

    rt = _runtime()
    with rt.control() as s:
        rows = [{"id": o.id, "name": o.name, "created_at": o.created_at} for o in list_orgs(s)]
    if as_json:
        _print_json(rows)
        return
    t = Table("name", "id", "created")
    for r in rows:
        t.add_row(r["name"], r["id"], str(r["created_at"]))
    out.print(t)


# ---- import / export / stats / sql ------------------------------------------------------------


@app.command("import")
def import_(
    sources: Annotated[list[Path], typer.Argument(help="Files or directories: EML, mbox, PST/OST, .msg.")],
    org: OrgOpt,
    mailbox: Annotated[str, typer.Option("--mailbox", help="Archive mailbox address (created if new).")],
    folder: Annotated[str | None, typer.Option("--folder", help="Put everything into this folder.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Archive mail files into an archive mailbox."""
    from mailark.sources.files.importing import run_import, source_bytes

    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        _fail(f"nothing imported: no such file or directory: {', '.join(missing)}")
    if _prefect_running():
        from mailark.flows.import_files import import_files

        _guard(lambda: _runtime().org(org))  # a clear refusal, not a failed flow run, for a typo

        doc = _guard(lambda: import_files(org, mailbox, [str(s.resolve()) for s in sources], folder))
    else:
        rt = _runtime()
        total = source_bytes([s for s in sources if s.exists()])
        with Progress(
            TextColumn("[bold]archiving[/]"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[counts]}"),
            TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task("import", total=total or None, counts="")

            def on_batch(c, nbytes: int) -> None:  # type: ignore[no-untyped-def]
                progress.update(task, advance=nbytes, counts=f"{c.archived} archived, {c.duplicates} dup, {c.quarantined} quarantined")

            result = _guard(lambda: run_import(rt, org, mailbox, sources, folder, on_batch=on_batch))
        doc = result.as_dict()
    if doc.get("mailbox_created"):
        err.print(f"created archive mailbox {doc['mailbox']}")
    if as_json:
        _print_json(doc)
        return
    out.print(
        f"{doc['seen']} seen: {doc['archived']} archived, {doc['duplicates']} duplicates, "
        f"{doc['quarantined']} quarantined, {doc['deferred']} deferred ({doc['seconds']} s)"
    )
    for reason, n in sorted(doc.get("reasons", {}).items()):
        out.print(f"  {n:6d}  {reason}")


@app.command("export")
def export(
    org: OrgOpt,
    out_file: Annotated[Path, typer.Option("--out", help="The zip file to write.")],
    mailbox: Annotated[str | None, typer.Option("--mailbox", help="Only this archive mailbox.")] = None,
    folder: Annotated[str | None, typer.Option("--folder", help="Only this folder (and its subfolders).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export archived mail as a zip of .eml files with a manifest."""
    from mailark.catalog.export import export_zip
    from mailark.control import audit
    from mailark.control.orgs import NotFound, find_mailbox
    from mailark.control.principals import Principal

    rt = _runtime()

    def run():  # type: ignore[no-untyped-def]
        o = rt.org(org)
        mailbox_id = None
        if mailbox:
            with rt.control() as s:
                mb = find_mailbox(s, o, mailbox)
            if mb is None:
                raise NotFound(f"organization {org!r} has no archive mailbox {mailbox!r}")
            mailbox_id = mb.id
        result = export_zip(rt.archive_for(o), out_file, mailbox_id, folder)
        # The CLI acts as the deployment operator: its reads of message content are audited too.
        with rt.session(write=True) as s:
            audit.record(s, Principal.deployment_operator(), "content.export", org_id=o.id, target=str(out_file),
                         details={"mailbox": mailbox, "folder": folder, "messages": result.messages,
                                  "quarantined": result.quarantined})
        return result

    result = _guard(run)
    if as_json:
        _print_json(result.as_dict())
    else:
        out.print(f"wrote {result.path}: {result.messages} messages, {result.quarantined} quarantined items")


@app.command("stats")
def stats(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Messages, copies and bytes of an organization's archive."""
    from mailark.catalog.stats import org_stats

    rt = _runtime()
    doc = _guard(lambda: org_stats(rt.archive_for(rt.org(org))))
    if as_json:
        _print_json(doc)
        return
    t = Table("figure", "value")
    for k, v in doc.items():
        t.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
    out.print(t)


@app.command("sql")
def sql(
    query: Annotated[str | None, typer.Argument(help="A read-only SQL query over the catalogue (tables of schema lake).")] = None,
    as_json: JsonOpt = False,
    show_attach: Annotated[
        bool, typer.Option("--attach", help="Print the SQL that attaches the catalogue in plain DuckDB, and exit.")
    ] = False,
) -> None:
    """Run a read-only query over all organizations' catalogue (an operator tool)."""
    import duckdb

    from mailark.catalog.lake import analyst_script, connect, location
    from mailark.storage.objects import open_store

    settings = get_settings()
    loc = location(settings, open_store(settings))
    if show_attach:
        sys.stdout.write(analyst_script(loc))
        return
    if not query:
        err.print("usage: mailark sql QUERY [--json] | mailark sql --attach")
        raise typer.Exit(2)
    con = connect()
    try:
        con.execute(loc.attach_sql(read_only=True))
        con.execute("USE lake")
        rel = con.execute(query)
        cols = [d[0] for d in rel.description] if rel.description else []
        rows = rel.fetchall()
    except duckdb.Error as e:
        _fail(f"query failed: {e}")
    if as_json:
        _print_json([dict(zip(cols, r)) for r in rows])
        return
    t = Table(*cols)
    for r in rows:
        t.add_row(*[str(v) for v in r])
    out.print(t)


# ---- demo -------------------------------------------------------------------------------------


@app.command("demo")
def demo(
    corpus: Annotated[Path, typer.Option(help="Sample mail to archive.")] = Path("../shared/corpus"),
    org: Annotated[str, typer.Option(help="Demo organization name.")] = "demo",
    no_server: Annotated[bool, typer.Option("--no-server", help="Do not start a Prefect server.")] = False,
) -> None:
    """Start the embedded default, archive sample mail through the import flow, and say where to look."""
    from mailark.control.orgs import Conflict, create_org
    from mailark.runtime import prefect_server

    settings = get_settings()
    settings.ensure_dirs()
    if not corpus.exists():
        _fail(f"no sample mail at {corpus}: pass --corpus DIR")
    if not no_server:
        err.print("starting the Prefect server (first start takes a while)...")
        try:
            prefect_server.start_background(settings)
        except RuntimeError as e:
            _fail(str(e))
    rt = _runtime()
    try:
        with rt.session() as s:
            created = create_org(s, org, rt.master_key)
        err.print(f"created organization {org}; its first admin is {created.admin_login} "
                  f"(one-time password {created.admin_password})", soft_wrap=True, highlight=False)
    except Conflict:
        err.print(f"organization {org} exists; importing again shows deduplication at work")
    mailbox = f"archive@{org}"
    rt.close()
    if not no_server and _prefect_running():
        from mailark.flows.import_files import import_files

        doc = _guard(lambda: import_files(org, mailbox, [str(corpus.resolve())], None))
    else:
        from mailark.sources.files.importing import run_import

        doc = _guard(lambda: run_import(rt, org, mailbox, [corpus], None)).as_dict()
    from mailark.catalog.lake import analyst_script, location
    from mailark.catalog.stats import org_stats

    rt = _runtime()
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


@app.command("web")
def web(
    host: Annotated[str | None, typer.Option(help="Listen address (default: settings web_host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings web_port, 8080).")] = None,
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json) in the foreground until Ctrl-C."""
    from mailark.dashboards.app import serve

    serve(get_settings(), host, port)


@app.command("up")
def up() -> None:
    """Start the embedded stack (Prefect server and worker, SMTP journal endpoint, web app) until Ctrl-C."""
    from mailark.supervisor import run_up

    try:
        run_up(get_settings(), lambda text: err.print(text, highlight=False, soft_wrap=True))
    except (RuntimeError, FileNotFoundError) as e:
        _fail(str(e))


@app.command("status")
def status(as_json: JsonOpt = False) -> None:
    """What `mailark up` runs, whether each part answers, and the last run of each flow."""
    from mailark.status import read_status

    st = read_status(get_settings())
    if as_json:
        _print_json(st.as_dict())
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
app.add_typer(server_app, name="server")


@server_app.command("start")
def server_start() -> None:
    """Start the Prefect server in the background (db/prefect, logs/prefect-server.log)."""
    from mailark.runtime import prefect_server

    settings = get_settings()
    try:
        started = prefect_server.start_background(settings)
    except RuntimeError as e:
        _fail(str(e))
    out.print(("started" if started else "already running") + f": {prefect_server.ui_url(settings)}")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the background Prefect server started by mailark."""
    from mailark.runtime import prefect_server

    stopped = prefect_server.stop_background(get_settings())
    out.print("stopped" if stopped else "no server started by mailark is running")


# Command groups of their own modules (each imports nothing from this one).
from mailark import backup_cli, export_cli  # noqa: E402
from mailark.admin_cli import register_admin_commands  # noqa: E402
from mailark.compliance_cli import register_compliance_commands  # noqa: E402
from mailark.directory_cli import register as register_directory_commands  # noqa: E402
from mailark.journal_cli import register as register_journal_commands  # noqa: E402
from mailark.search_cli import register_search_commands  # noqa: E402
from mailark.source_cli import register_source_commands  # noqa: E402
from mailark.usage_cli import register as register_usage_commands  # noqa: E402

register_admin_commands(app, org_app)
register_source_commands(app)
register_journal_commands(app)
register_directory_commands(app)
register_usage_commands(app)
register_compliance_commands(app)
register_search_commands(app)
export_cli.register(app)
backup_cli.register(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
