"""`mailark search`: index an organization's mail now (or rebuild its index) and search it.

The CLI runs the same plain code as the `index-mail` flow (catalog.search.indexer) and acts as the
deployment operator, who reads every mailbox; its searches are audited like the API's. A plain
`search query` on the embedded control plane never gets here: mailark.cli.search_query answers it
without Typer and the ORM, and hands this command whatever it does not handle.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mailark.cli.common import JsonOpt, OrgOpt, emit, fail, usable_home

search_app = typer.Typer(no_args_is_help=True, help="Full-text search: index, rebuild, query.")


def register(app: typer.Typer) -> None:
    app.add_typer(search_app, name="search")


@search_app.command("index")
def index(org: OrgOpt, rebuild: Annotated[bool, typer.Option("--rebuild", help="Recreate the index from the catalogue "
                                                                             "and objects.")] = False,
          as_json: JsonOpt = False) -> None:
    """Bring the organization's index up to its catalogue (what the index-mail flow does every minute)."""
    from mailark.catalog.search.indexer import IndexOptions, rebuild_index, sync_index
    from mailark.control.orgs import ControlError
    from mailark.runtime import open_runtime

    rt = open_runtime(usable_home())
    try:
        o = rt.org(org)
        opts = IndexOptions.from_settings(rt.settings.search, grow_parts=True)
        run = (rebuild_index if rebuild else sync_index)(rt.archive_for(o), rt.settings.db_dir, opts)
    except ControlError as e:
        fail(str(e))
    finally:
        rt.close()
    emit(run.as_dict(), as_json, f"{org}: {run.mode}, catalogue snapshot {run.snapshot}: {run.indexed} copies indexed, "
                                  f"{run.deleted} removed in {run.seconds:.1f} s")


@search_app.command("query")
def query(org: OrgOpt, text: Annotated[str, typer.Argument(help='e.g. \'from:ann "quarterly report" after:2024-01-01\'')],
          page: int = 1, per_page: int = 25, sort: str = "newest", as_json: JsonOpt = False) -> None:
    """Search every mailbox of the organization (as the deployment operator; audited)."""
    from mailark.catalog.search.query import QueryError
    from mailark.catalog.search.searcher import search
    from mailark.control.orgs import ControlError, find_mailbox
    from mailark.control.principals import Principal
    from mailark.control.reading import readable, record_search
    from mailark.runtime import open_runtime

    rt = open_runtime(usable_home())
    try:
        with rt.session(write=True) as s:
            p = Principal.deployment_operator()
            o, allowed = readable(s, p, org)
            def resolve(address: str) -> set[str]:
                try:
                    mb = find_mailbox(s, o, address)
                except ControlError:
                    return set()
                return {mb.id} if mb else set()

            result = search(rt.settings.db_dir, o.id, text, allowed, page=page, per_page=per_page, sort=sort,
                            resolve_mailbox=resolve, every_mailbox=True)
            record_search(s, p, o, text, result.total)
    except (ControlError, QueryError) as e:
        fail(f"the search query cannot be read: {e}" if isinstance(e, QueryError) else str(e))
    finally:
        rt.close()
    from mailark.cli.common import out
    from mailark.cli.search_query import page_doc, show_page

    emit(page_doc(result), as_json, lambda: show_page(result, out))
