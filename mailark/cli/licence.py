"""An organization's licence (MSP operators)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

import typer

from mailark.cli.common import JsonOpt, OrgOpt, act, cli_runtime, emit, err, table

licence_app = typer.Typer(no_args_is_help=True, help="An organization's licence (MSP operators).")


def register(app: typer.Typer) -> None:
    app.add_typer(licence_app, name="licence")


# ---- licence -------------------------------------------------------------------------------------------------


def _licence_text(v: Any) -> Callable[[], None]:
    return table([{"figure": k, "value": val} for k, val in v.as_dict().items()], "figure", "value")


@licence_app.command("show")
def licence_show(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """The licence and what is in use."""
    from mailark.control.licensing import get_licence

    v = act(lambda s, p, rt: get_licence(s, p, org))
    emit(v.as_dict(), as_json, _licence_text(v))


@licence_app.command("set")
def licence_set(
    org: OrgOpt,
    users: Annotated[int | None, typer.Option("--users", help="Licensed users.")] = None,
    per_user: Annotated[int | None, typer.Option("--mailboxes-per-user", help="Archive mailboxes per licensed user.")] = None,
    storage_gb: Annotated[int | None, typer.Option("--storage-gb", help="Storage tier in GB (10, 25, 50, 100, 250, ...).")] = None,
    auto_expand: Annotated[bool | None, typer.Option("--auto-expand/--no-auto-expand", help="Grow to the next tier at 90 %.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a licence; it takes effect at once."""
    from mailark.control.licensing import change_licence

    v = act(lambda s, p, rt: change_licence(s, p, org, users=users, mailboxes_per_user=per_user,
                                             storage_gb=storage_gb, auto_expand=auto_expand))
    emit(v.as_dict(), as_json, _licence_text(v))
    _resume_exports(org)


def _resume_exports(org: str) -> None:
    """Exports paused at the quota run now if the change made room for them (said on stderr)."""
    from mailark.operations.export_resume import resume_paused

    rt = cli_runtime()
    try:
        ids = resume_paused(rt, rt.org(org).id, in_background=False)
    finally:
        rt.close()
    for export_id in ids:
        err.print(f"export {export_id} was paused at the storage quota: there is room now, it was resumed",
                  soft_wrap=True)


@licence_app.command("cancel-trial")
def licence_cancel_trial(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Let the trial expire at its end instead of becoming paid."""
    from mailark.control.licensing import cancel_trial

    v = act(lambda s, p, rt: cancel_trial(s, p, org))
    emit(v.as_dict(), as_json, f"the trial of {org} ends on {v.trial_ends_at:%Y-%m-%d} and will not become paid")


@licence_app.command("cancel")
def licence_cancel(
    org: OrgOpt,
    undo: Annotated[bool, typer.Option("--undo", help="Undo the cancellation (same as: mailark licence resume).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Cancel the subscription: it ends at the end of this month; users may export during the grace period
    (offboarding_grace_days), then the organization is locked and due for deletion (mailark org delete)."""
    from mailark.control.licensing import cancel_subscription, resume_subscription

    if undo:
        v = act(lambda s, p, rt: resume_subscription(s, p, org))
        emit(v.as_dict(), as_json, f"the cancellation of {org} is undone: the licence is {v.status}")
        _resume_exports(org)
        return
    v = act(lambda s, p, rt: cancel_subscription(s, p, org, grace_days=rt.settings.offboarding_grace_days))
    emit(v.as_dict(), as_json, f"the subscription of {org} ends on {v.subscription_ends_at:%Y-%m-%d}; its users may "
                               f"log in and export until {v.deletion_due_at:%Y-%m-%d}, then it is locked and due for "
                               f"deletion (undo: mailark licence resume --org {org})")


@licence_app.command("resume")
def licence_resume(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Undo a cancellation (until the organization is deleted)."""
    from mailark.control.licensing import resume_subscription

    v = act(lambda s, p, rt: resume_subscription(s, p, org))
    emit(v.as_dict(), as_json, f"the cancellation of {org} is undone: the licence is {v.status}")
    _resume_exports(org)


@licence_app.command("renew")
def licence_renew(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Make the licence paid from now on (ends a trial, undoes a cancellation)."""
    from mailark.control.licensing import renew

    v = act(lambda s, p, rt: renew(s, p, org))
    emit(v.as_dict(), as_json, f"the licence of {org} is {v.status}")
    _resume_exports(org)


@licence_app.command("warnings")
def licence_warnings_cmd(
    org: OrgOpt,
    used_bytes: Annotated[int | None, typer.Option("--used-bytes", help="Storage in use (default: from the catalogue).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Storage at 90 %, users or mailboxes at quota, a trial about to end."""
    from mailark.control.licensing import licence_warnings
    from mailark.control.principals import visible_org

    def work(s, p, rt):  # type: ignore[no-untyped-def]
        o = visible_org(s, p, org)
        used = used_bytes
        if used is None:  # what ingest compares with the quota
            from mailark.catalog.ingest import storage_used

            used = storage_used(rt.archive_for(o))
        return [asdict(w) for w in licence_warnings(s, o, used)]

    rows = act(work)
    emit(rows, as_json, "\n".join(f"{w['code']}: {w['message']}" for w in rows) or "no warnings")
