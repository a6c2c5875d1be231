"""The audit log: verify its hash chain, list and filter its events."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

import typer

from mailark.cli.common import JsonOpt, act, emit, err, table

audit_app = typer.Typer(no_args_is_help=True, help="The audit log.")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


# ---- audit ----------------------------------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    incremental: Annotated[bool, typer.Option("--incremental", help="Check only the events since the newest verified "
                                                                   "checkpoint (what the pages do); default: the "
                                                                   "whole chain from the first event.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check the audit log's hash chain; exit 1 if any event was edited, removed or inserted."""
    from mailark.control.audit import verify_chain

    v = act(lambda s, p, rt: verify_chain(s, full=not incremental))
    how = "from the first event" if v.full else f"from the checkpoint at event {v.from_seq}"
    emit(v.as_dict(), as_json,
          f"audit chain intact: {v.events} events, head {v.head_hash} ({v.events_checked} checked {how})" if v.ok
          else f"audit chain BROKEN at event {v.first_bad_seq}: {v.reason}")
    if not v.ok:
        if not as_json:
            err.print(f"[bold red]error:[/] the audit log was tampered with at event {v.first_bad_seq}: {v.reason}",
                      highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _when(end_of_day: bool) -> Callable[[str | None], Any]:
    """A --since/--until value parsed as the API parses it; a bad one is wrong usage (exit 2)."""
    def parse(text: str | None) -> Any:
        from mailark.control.audit import parse_time

        try:
            return parse_time(text, end_of_day=end_of_day)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
    return parse


@audit_app.command("list")
def audit_list(
    org: Annotated[str | None, typer.Option("--org", help="Organization (default: the whole deployment).")] = None,
    action: Annotated[str, typer.Option("--action", help="Exact action, or a prefix ending in '.' or '*' "
                                                         "(e.g. content.).")] = "",
    actor: Annotated[str, typer.Option("--actor", help="The acting login, exact.")] = "",
    outcome: Annotated[str, typer.Option("--outcome", help="ok, failed, denied, ...")] = "",
    target: Annotated[str, typer.Option("--target", help="A part of the target, any case.")] = "",
    since: Annotated[str | None, typer.Option("--since", callback=_when(False), metavar="WHEN",
                                              help="Events at or after: YYYY-MM-DD or ISO 8601 (no zone = UTC).")] = None,
    until: Annotated[str | None, typer.Option("--until", callback=_when(True), metavar="WHEN",
                                              help="Events before; a date alone includes that whole day.")] = None,
    after: Annotated[int, typer.Option("--after", min=0, help="Only events after this sequence number, oldest "
                                                              "first (followers: the last seq seen).")] = 0,
    before: Annotated[int | None, typer.Option("--before", min=1, help="Only events before this sequence number, "
                                                                       "newest first (the cursor of the next "
                                                                       "older page).")] = None,
    newest: Annotated[bool, typer.Option("--newest", help="Newest first from the latest event (then page on "
                                                          "with --before).")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Events per page.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List audit events, filtered, a page at a time (oldest first, or newest first with --before/--newest).

    When more events match, the next page's option goes to stderr ("more: --before N" or "more: --after N");
    with --json stdout stays the list of events and stderr gets {"older": N, "newer": M} (null: none).
    """
    from mailark.control.audit import AuditFilter, list_events

    f = AuditFilter(action=action, actor=actor, outcome=outcome, target=target, since=since,  # type: ignore[arg-type]
                    until=until)  # type: ignore[arg-type]
    desc = newest or before is not None
    page = act(lambda s, p, rt: list_events(s, p, org, filters=f, after_seq=after, before_seq=before,
                                             newest_first=desc, limit=limit))
    rows = [asdict(e) for e in page.events]
    emit(rows, as_json, table(rows, "seq", "at", "actor", "action", "target", "outcome"))
    if as_json:
        sys.stderr.write(json.dumps({"older": page.older, "newer": page.newer}) + "\n")
    elif (page.older if desc else page.newer) is not None:
        nxt = f"--before {page.older}" if desc else f"--after {page.newer}"
        err.print(f"more: {nxt}", highlight=False, soft_wrap=True)
