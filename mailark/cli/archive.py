"""Mail in and out: import files, export, statistics and SQL over the catalogue."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mailark.cli.common import JsonOpt, OrgOpt, cli_runtime, err, fail, guard, out, prefect_running, print_json
from mailark.config.settings import get_settings


def register(app: typer.Typer) -> None:
    for name, fn in (("import", import_), ("export", export), ("stats", stats), ("sql", sql)):
        app.command(name)(fn)

# ---- import / export / stats / sql ------------------------------------------------------------


def import_(
    sources: Annotated[list[Path], typer.Argument(help="Files or directories: EML, mbox, PST/OST, .msg, Maildir.")],
    org: OrgOpt,
    mailbox: Annotated[str, typer.Option("--mailbox", help="Archive mailbox address (created if new).")],
    folder: Annotated[str | None, typer.Option("--folder", help="Put everything into this folder.")] = None,
    no_index: Annotated[bool, typer.Option("--no-index", help="Leave indexing to the index-mail flow or "
                                                             "`mailark search index`.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Archive mail files into an archive mailbox."""
    from mailark.sources.files.importing import run_import

    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        fail(f"nothing imported: no such file or directory: {', '.join(missing)}")
    if prefect_running():
        from mailark.flows.import_files import import_files

        guard(lambda: cli_runtime().org(org))  # a clear refusal, not a failed flow run, for a typo

        doc = guard(lambda: import_files(org, mailbox, [str(s.resolve()) for s in sources], folder))
    else:
        rt = cli_runtime()
        try:
            if err.is_terminal:
                result = _import_with_progress(rt, org, mailbox, sources, folder)
            else:  # a script or --json run: no bar, so no pass over the files to size it
                result = guard(lambda: run_import(rt, org, mailbox, sources, folder))
            doc = result.as_dict()
            if not no_index and doc.get("archived"):
                index = index_archived(rt, org)
                if index is not None:
                    doc["index"] = index
        finally:
            rt.close()
    if doc.get("mailbox_created"):
        err.print(f"created archive mailbox {doc['mailbox']}")
    if as_json:
        _say_deferred(doc)
        print_json(doc)
        return
    out.print(
        f"{doc['seen']} seen: {doc['archived']} archived, {doc['duplicates']} duplicates, "
        f"{doc['quarantined']} quarantined, {doc['deferred']} deferred ({doc['seconds']} s)"
    )
    for reason, n in sorted(doc.get("reasons", {}).items()):
        out.print(f"  {n:6d}  {reason}")
    _say_deferred(doc)


def _import_with_progress(rt, org: str, mailbox: str, sources: list[Path], folder: str | None):  # type: ignore[no-untyped-def]
    """The import under a progress bar sized by the inputs (a terminal only: rich.progress and the
    sizing pass over every file cost a scripted run for nothing)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from mailark.sources.files.importing import run_import, source_bytes

    total = source_bytes([s for s in sources if s.exists()])
    with Progress(
        TextColumn("[bold]archiving[/]"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[counts]}"),
        TimeRemainingColumn(), console=err, transient=True,
    ) as progress:
        task = progress.add_task("import", total=total or None, counts="")

        def on_batch(c, nbytes: int) -> None:  # type: ignore[no-untyped-def]
            progress.update(task, advance=nbytes, counts=f"{c.archived} archived, {c.duplicates} dup, {c.quarantined} quarantined")

        return guard(lambda: run_import(rt, org, mailbox, sources, folder, on_batch=on_batch))


def index_archived(rt, org: str) -> dict | None:  # type: ignore[no-untyped-def,type-arg]
    """Make the mail just archived searchable in this process (one start-up instead of two).

    The mail is archived whatever happens here: an index that cannot be brought up to date is a
    warning (None, exit 0), not a failed import; the next index run catches up."""
    from mailark.catalog.search.indexer import IndexOptions, sync_index
    from mailark.cli.common import explain_failure

    opts = IndexOptions.from_settings(rt.settings.search)
    try:
        return sync_index(rt.archive_for(rt.org(org)), rt.settings.db_dir, opts).as_dict()
    except Exception as e:  # noqa: BLE001 - said in words below; the archived mail is not touched
        why = explain_failure(e) or f"{type(e).__name__}: {e}"
        err.print(f"[yellow]warning:[/] archived, but not searchable yet ({why}): run `mailark search index "
                  f"--org {org}` (the index-mail flow also catches up)", highlight=False, soft_wrap=True)
        return None


def _say_deferred(doc: dict) -> None:  # type: ignore[type-arg]
    """A file import does not resume by itself: say what was deferred and how to continue."""
    if doc.get("deferred"):
        err.print(f"{doc['deferred']} messages were deferred (nothing of them was stored): re-run the same command "
                  f"when there is room in the storage quota or archiving is no longer paused; it archives only what "
                  f"is missing", soft_wrap=True)


def export(
    org: OrgOpt,
    out_file: Annotated[Path, typer.Option("--out", help="The zip file to write.")],
    mailbox: Annotated[str | None, typer.Option("--mailbox", help="Only this archive mailbox.")] = None,
    folder: Annotated[str | None, typer.Option("--folder", help="Only this folder (and its subfolders).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export archived mail as a zip of .eml files with a manifest (exit 3: damaged copies left out)."""
    from mailark.catalog.export import export_zip
    from mailark.control import audit
    from mailark.control.orgs import NotFound, find_mailbox
    from mailark.control.principals import Principal

    rt = cli_runtime()

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
                                  "quarantined": result.quarantined, "damaged": result.damaged})
        return result

    result = guard(run)
    if as_json:
        print_json(result.as_dict())
    else:
        out.print(f"wrote {result.path}: {result.messages} messages, {result.quarantined} quarantined items"
                  + (f", {result.damaged} damaged copies left out" if result.damaged else ""))
    if result.damaged:  # exit 3: written, but not whole (scripts must notice)
        err.print(f"[bold red]{result.damaged} damaged copies could not be read back intact and are not in the export[/]: "
                  f"DAMAGED.txt and manifest.csv (kind 'damaged') in {result.path} name them; "
                  f"`mailark scrub --org {org} --full` names the damaged objects", highlight=False, soft_wrap=True)
        raise typer.Exit(3)


def stats(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Messages, copies and bytes of an organization's archive."""
    from mailark.catalog.stats import org_stats

    rt = cli_runtime()
    doc = guard(lambda: org_stats(rt.archive_for(rt.org(org))))
    if as_json:
        print_json(doc)
        return
    from rich.table import Table  # imported when a table is printed: a --json run does without it

    t = Table("figure", "value")
    for k, v in doc.items():
        t.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
    out.print(t)


def sql(
    query: Annotated[str | None, typer.Argument(help="A read-only SQL query over the catalogue (tables of schema lake).")] = None,
    as_json: JsonOpt = False,
    show_attach: Annotated[
        bool, typer.Option("--attach", help="Print the SQL that attaches the catalogue in plain DuckDB, and exit.")
    ] = False,
) -> None:
    """Run a read-only query over all organizations' catalogue (an operator tool)."""
    import duckdb

    from mailark.catalog.lake import (QueryRefused, analyst_script, check_analyst_query, connect, extensions_for, location,
                                      lock_down)
    from mailark.storage.objects import open_store

    settings = get_settings()
    loc = location(settings, open_store(settings))
    if show_attach:
        sys.stdout.write(analyst_script(loc))
        return
    if not query:
        err.print("usage: mailark sql QUERY [--json] | mailark sql --attach")
        raise typer.Exit(2)
    con = connect(extensions=extensions_for(loc.catalog))
    try:
        con.execute(loc.attach_sql(read_only=True))
        con.execute("USE lake")
        lock_down(con, loc)
        check_analyst_query(con, query)
        rel = con.execute(query)
        cols = [d[0] for d in rel.description] if rel.description else []
        rows = rel.fetchall()
    except (duckdb.Error, QueryRefused) as e:
        fail(f"query failed: {e}")
    if as_json:
        print_json([dict(zip(cols, r)) for r in rows])
        return
    from rich.table import Table

    t = Table(*cols)
    for r in rows:
        t.add_row(*[str(v) for v in r])
    out.print(t)
