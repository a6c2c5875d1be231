"""`mailark exports start|list|show|download|resume|delete`: export jobs from the command line.

`mailark export --out FILE` (mailark/cli.py) stays the quick local export; these commands make the
same export jobs as the API (stored encrypted in the organization's storage, counted against its
quota, once-a-month full exports). The CLI acts as the deployment operator; its reads are audited.
With a Prefect server up, the job runs as the `export-mail` flow (visible in the UI).
"""


from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer


def _doc(j: Any) -> dict[str, object]:
    from mailark.dashboards.api.exports import out

    return out(j).model_dump(mode="json")


def register(app: typer.Typer) -> None:
    from mailark.cli.common import (
        JsonOpt,
        OrgOpt,
        cli_runtime,
        err,
        guard,
        out,
        prefect_running,
        print_json,
    )

    exports_app = typer.Typer(no_args_is_help=True, help="Export jobs kept in the organization's storage.")
    app.add_typer(exports_app, name="exports")
    from mailark.catalog.stats import message_date_span
    from mailark.control import exports as cx
    from mailark.control.principals import Principal
    from mailark.operations.searching import matching_copies

    op = Principal.deployment_operator()

    def run(rt: Any, export_id: str) -> dict[str, object]:
        if prefect_running():
            from mailark.flows.export import export_mail

            return export_mail(export_id)
        from mailark.operations.exports import run_export

        return run_export(rt, export_id).as_dict()

    def exit_for(doc: dict[str, object]) -> None:
        """0 done; 3 done but damaged copies left out (named in the zip); 1 anything else."""
        if doc["status"] == cx.DONE_DAMAGED:
            raise typer.Exit(3)
        if doc["status"] != cx.DONE:
            raise typer.Exit(1)

    def show(doc: dict[str, object], as_json: bool) -> None:
        if as_json:
            print_json(doc)
        else:
            out.print(f"export {doc['id']} ({doc['kind']}): {doc['status']}, {doc['messages']} messages, "
                      f"{doc['quarantined']} quarantined, "
                      + (f"{doc['damaged']} damaged left out, " if doc.get("damaged") else "")
                      + f"{doc['stored_bytes']:,} bytes stored"
                      + (f"; {doc['error']}" if doc.get("error") else ""), highlight=False)

    @exports_app.command("start")
    def start(
        org: OrgOpt,
        mailbox: Annotated[list[str] | None, typer.Option("--mailbox", help="Only these archive mailboxes (repeat).")] = None,
        folder: Annotated[str | None, typer.Option("--folder", help="Only this folder and its subfolders.")] = None,
        date_from: Annotated[datetime | None, typer.Option("--from", help="Messages dated at or after (UTC).")] = None,
        date_to: Annotated[datetime | None, typer.Option("--to", help="Messages dated before (UTC).")] = None,
        incremental: Annotated[bool, typer.Option("--incremental", help="Only mail archived since the last export.")] = False,
        query: Annotated[str | None, typer.Option("--query", help='Only what this search matches (e.g. \'from:ann "budget"\').')] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Start an export job and run it to its end (full archive: once a calendar month; exit 3: damaged copies left out)."""
        from datetime import UTC

        rt = cli_runtime()
        utc = lambda d: d.replace(tzinfo=UTC) if d and d.tzinfo is None else d  # noqa: E731

        def go() -> dict[str, object]:
            with rt.session(write=True) as s:
                items = matching_copies(s, op, org, rt.settings, query) if query else None
                req = cx.ExportRequest(mailboxes=mailbox or None, folder=folder, date_from=utc(date_from),
                                       date_to=utc(date_to), incremental=incremental, query=query, item_ids=items)
                span = message_date_span(rt.archive_for(rt.org(org))) if cx.may_cover_everything(req) else None
                export_id = cx.start_export(s, op, org, req, date_span=span).id
            err.print(f"export {export_id} started")
            run(rt, export_id)
            with rt.control() as s:
                return _doc(cx.get_export(s, op, org, export_id))

        doc = guard(go)
        show(doc, as_json)
        exit_for(doc)

    @exports_app.command("list")
    def list_(org: OrgOpt, as_json: JsonOpt = False) -> None:
        """The organization's export jobs, newest first."""
        rt = cli_runtime()
        with rt.control() as s:
            docs = guard(lambda: [_doc(j) for j in cx.list_exports(s, op, org)])
        if as_json:
            print_json(docs)
            return
        for d in docs:
            show(d, False)

    @exports_app.command("download")
    def download(org: OrgOpt, export_id: str, out_file: Annotated[Path, typer.Option("--out", help="The zip to write.")],
                 as_json: JsonOpt = False) -> None:
        """Write a finished export's zip (decrypted as it streams) to a local file."""
        from mailark.catalog.export_names import part_file, remove_stale_parts
        from mailark.operations.exports import open_download

        rt = cli_runtime()

        def go() -> dict[str, object]:
            with rt.session(write=True) as s:
                job = cx.check_download(s, op, org, export_id)
                s.expunge(job)
            remove_stale_parts(out_file.parent)  # left by downloads that were killed
            tmp = part_file(out_file)
            with tmp.open("wb") as f:
                for block in open_download(rt, job):
                    f.write(block)
            tmp.replace(out_file)
            return {"id": export_id, "path": str(out_file), "bytes": out_file.stat().st_size}

        doc = guard(go)
        if as_json:
            print_json(doc)
        else:
            out.print(f"wrote {doc['path']} ({doc['bytes']:,} bytes)")

    @exports_app.command("resume")
    def resume(org: OrgOpt, export_id: str, as_json: JsonOpt = False) -> None:
        """Run a paused (storage quota) or failed export again."""
        rt = cli_runtime()

        def go() -> dict[str, object]:
            with rt.session(write=True) as s:
                cx.resume(s, op, org, export_id)
            run(rt, export_id)
            with rt.control() as s:
                return _doc(cx.get_export(s, op, org, export_id))

        doc = guard(go)
        show(doc, as_json)
        exit_for(doc)

    @exports_app.command("delete")
    def delete(org: OrgOpt, export_id: str, as_json: JsonOpt = False) -> None:
        """Delete an export's file now (it stops counting against the quota)."""
        from mailark.operations.exports import remove_file

        rt = cli_runtime()

        def go() -> dict[str, object]:
            with rt.session(write=True) as s:
                job = cx.mark_deleted(s, op, org, export_id)
                org_id, name = job.org_id, job.object_name
            remove_file(rt, org_id, name)
            with rt.control() as s:
                return _doc(cx.get_export(s, op, org, export_id))

        show(guard(go), as_json)
