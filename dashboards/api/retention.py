"""Retention policies and legal holds (Compliance): create, change, preview, apply, report; place
and release holds. Every change is audited; a change that would shorten how long copies are kept
is refused with 409 and the warning until it is sent again with `confirm: true`."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from mailark.control.retention import PolicySpec
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.deps import Acting, Ctx
from mailark.operations import retention as ret

router = APIRouter(prefix=ORG_PATH, tags=["compliance"])


class PolicyIn(BaseModel):
    name: str = Field(examples=["commercial-mail"])
    keep: str = Field(description="Nd, Nm or Ny", examples=["10y"])
    mailboxes: list[str] = Field(default_factory=list, description="archive mailboxes (none: every mailbox)")
    folder: str | None = Field(default=None, description="this folder and the folders below it")
    query: str | None = Field(default=None, description="search syntax, e.g. from:@bank.example")
    from_: Literal["message-date", "archived"] = Field(default="message-date", alias="from")
    action: Literal["delete", "review"] = "delete"
    confirm: bool = Field(default=False, description="save even though it shortens how long some copies are kept")

    model_config = {"populate_by_name": True}

    def spec(self) -> PolicySpec:
        return PolicySpec(self.name, self.keep, tuple(self.mailboxes), self.folder, self.query, self.from_, self.action)


class HoldIn(BaseModel):
    case: str = Field(examples=["Case 2026-17"])
    reason: str = Field(examples=["litigation hold requested by counsel"])
    mailboxes: list[str] = Field(default_factory=list)
    query: str | None = None


class ReleaseIn(BaseModel):
    reason: str = Field(examples=["case closed by settlement"])


@router.get("/retention/policies", responses=ERRORS, summary="Retention policies (Compliance)")
def list_policies(org: str, p: Acting, ctx: Ctx) -> list[dict[str, Any]]:
    return ret.list_policies(ctx.runtime, p, org)


@router.post("/retention/policies", status_code=201, responses=ERRORS,
             summary="Create a retention policy (Compliance; 409 with the warning if it would shorten what is kept)")
def add_policy(org: str, body: PolicyIn, p: Acting, ctx: Ctx) -> dict[str, Any]:
    with ctx.lake_lock:
        return ret.save_checked(ctx.runtime, p, org, body.spec(), confirm=body.confirm)


@router.put("/retention/policies/{policy}", responses=ERRORS,
            summary="Change a retention policy (Compliance; 409 with the warning if it would shorten what is kept)")
def change_policy(org: str, policy: str, body: PolicyIn, p: Acting, ctx: Ctx) -> dict[str, Any]:
    with ctx.lake_lock:
        return ret.save_checked(ctx.runtime, p, org, body.spec(), change=policy, confirm=body.confirm)


@router.delete("/retention/policies/{policy}", responses=ERRORS,
               summary="Remove a retention policy (Compliance; 409 with the warning if it would shorten what is kept)")
def remove_policy(org: str, policy: str, p: Acting, ctx: Ctx, confirm: bool = False) -> dict[str, Any]:
    with ctx.lake_lock:
        return ret.remove_checked(ctx.runtime, p, org, policy, confirm=confirm)


@router.get("/retention/preview", responses=ERRORS,
            summary="Copies and bytes each policy would remove now and in each of the next 12 months")
def preview(org: str, p: Acting, ctx: Ctx) -> dict[str, Any]:
    with ctx.lake_lock:
        return ret.preview(ctx.runtime, p, org)


@router.post("/retention/apply", responses=ERRORS,
             summary="Apply the policies now (what the daily apply-retention flow does)")
def apply(org: str, p: Acting, ctx: Ctx) -> dict[str, Any]:
    with ctx.lake_lock:
        return ret.apply_retention(ctx.runtime, p, org).as_dict()


@router.get("/retention/report", responses=ERRORS,
            summary="Per policy and hold: what is kept, what was deleted when and why; the audit chain's verdict")
def report(org: str, p: Acting, ctx: Ctx) -> dict[str, Any]:
    with ctx.lake_lock:
        return ret.report(ctx.runtime, p, org)


@router.get("/holds", responses=ERRORS, summary="Legal holds with the copies and bytes each covers (Compliance)")
def list_holds(org: str, p: Acting, ctx: Ctx, released: bool = False) -> list[dict[str, Any]]:
    with ctx.lake_lock:
        return ret.list_holds(ctx.runtime, p, org, released=released)


@router.post("/holds", status_code=201, responses=ERRORS, summary="Place a legal hold on mailboxes or a query (Compliance)")
def add_hold(org: str, body: HoldIn, p: Acting, ctx: Ctx) -> dict[str, Any]:
    return ret.add_hold(ctx.runtime, p, org, body.case, body.reason, mailboxes=body.mailboxes, query=body.query)


@router.post("/holds/{case}/release", responses=ERRORS, summary="Release a legal hold (Compliance; a reason is required)")
def release_hold(org: str, case: str, body: ReleaseIn, p: Acting, ctx: Ctx) -> dict[str, Any]:
    return ret.end_hold(ctx.runtime, p, org, case, body.reason)


@router.post("/holds/{case}/export", response_class=FileResponse, responses={
    **ERRORS, 200: {"description": "the zip: .eml files, manifest.csv, CUSTODY.txt; the zip's SHA-256 in the header "
                                   "X-Mailark-Zip-SHA256", "content": {"application/zip": {}}}},
    summary="Export a legal hold for e-discovery with a chain-of-custody sheet (Compliance; audited)")
def export_hold(org: str, case: str, p: Acting, ctx: Ctx) -> FileResponse:
    from mailark.operations.hold_export import export_hold as run

    work = Path(tempfile.mkdtemp(prefix="mailark-hold-"))
    try:
        with ctx.lake_lock:
            doc = run(ctx.runtime, p, org, case, work / "hold.zip")
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    name = "hold-" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in case) + ".zip"
    return FileResponse(doc["path"], media_type="application/zip", filename=name,
                        headers={"X-Mailark-Zip-SHA256": doc["zip_sha256"],
                                 "X-Mailark-Custody": json.dumps({k: doc[k] for k in (
                                     "case", "exported_by", "exported_at", "messages", "quarantined", "damaged")})},
                        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True))


class ReviewIn(BaseModel):
    delete: list[str] = Field(default_factory=list, description="listed copies (item ids) to delete")
    keep: list[str] = Field(default_factory=list, description="listed copies (item ids) to keep")


@router.get("/retention/reviews", responses=ERRORS, summary="Copies review policies listed, waiting for a decision")
def reviews(org: str, p: Acting, ctx: Ctx) -> list[dict[str, Any]]:
    with ctx.lake_lock:
        return ret.open_reviews(ctx.runtime, p, org)


@router.post("/retention/reviews", responses=ERRORS,
             summary="Decide on listed copies: delete (compliance path; held copies refused, 409) or keep")
def decide(org: str, body: ReviewIn, p: Acting, ctx: Ctx) -> dict[str, int]:
    with ctx.lake_lock:
        return ret.decide_reviews(ctx.runtime, p, org, delete=body.delete, keep=body.keep)
