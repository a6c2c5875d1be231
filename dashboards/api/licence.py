"""An organization's licence: Admins and Auditors read it, MSP operators change it."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, BackgroundTasks

from mailark.control import licensing
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import LicenceChangeIn, LicenceOut
from mailark.dashboards.deps import DB, Acting, Ctx

router = APIRouter(prefix=ORG_PATH + "/licence", tags=["licence"])


def _out(v: licensing.LicenceView) -> LicenceOut:
    return LicenceOut(**asdict(v))


def _resume_exports(tasks: BackgroundTasks, ctx: Ctx, s: DB, org: str) -> None:
    """A change that makes room resumes exports paused at the quota (after the response, so after the commit)."""
    from mailark.control.orgs import get_org
    from mailark.operations.export_resume import resume_paused

    org_id = get_org(s, org).id
    tasks.add_task(lambda: resume_paused(ctx.runtime, org_id, in_background=True))


@router.get("", response_model=LicenceOut, responses=ERRORS, summary="The licence and what is used of it")
def get(org: str, p: Acting, s: DB) -> LicenceOut:
    return _out(licensing.get_licence(s, p, org))


@router.patch("", response_model=LicenceOut, responses=ERRORS, summary="Change the licence at once (operators)")
def change(org: str, body: LicenceChangeIn, p: Acting, s: DB, ctx: Ctx, tasks: BackgroundTasks) -> LicenceOut:
    v = licensing.change_licence(s, p, org, users=body.users, mailboxes_per_user=body.mailboxes_per_user,
                                 storage_gb=body.storage_gb, auto_expand=body.auto_expand)
    _resume_exports(tasks, ctx, s, org)
    return _out(v)


@router.post("/cancel-trial", response_model=LicenceOut, responses=ERRORS,
             summary="Let the trial expire instead of becoming paid (operators)")
def cancel_trial(org: str, p: Acting, s: DB) -> LicenceOut:
    return _out(licensing.cancel_trial(s, p, org))


@router.post("/renew", response_model=LicenceOut, responses=ERRORS, summary="Make the licence paid from now (operators)")
def renew(org: str, p: Acting, s: DB, ctx: Ctx, tasks: BackgroundTasks) -> LicenceOut:
    v = licensing.renew(s, p, org)
    _resume_exports(tasks, ctx, s, org)
    return _out(v)


@router.post("/cancel", response_model=LicenceOut, responses=ERRORS,
             summary="Cancel the subscription: it ends at the end of this month, then a grace period (operators)")
def cancel(org: str, p: Acting, s: DB, ctx: Ctx) -> LicenceOut:
    return _out(licensing.cancel_subscription(s, p, org, grace_days=ctx.runtime.settings.offboarding_grace_days))


@router.post("/resume", response_model=LicenceOut, responses=ERRORS,
             summary="Undo a cancellation, until the organization is deleted (operators)")
def resume(org: str, p: Acting, s: DB, ctx: Ctx, tasks: BackgroundTasks) -> LicenceOut:
    v = licensing.resume_subscription(s, p, org)
    _resume_exports(tasks, ctx, s, org)
    return _out(v)
