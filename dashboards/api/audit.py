"""The audit log: an organization's events and the chain check (Auditor), the whole log (operators)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from control import audit as caudit
from control.principals import AUDITOR, require_role, require_unrestricted_operator
from dashboards.api.common import ERRORS, ORG_PATH
from dashboards.api.models import AuditEntryOut, ChainOut
from dashboards.deps import DB, Acting

router = APIRouter(tags=["audit"])
After = Query(0, ge=0, description="only events after this sequence number (for paging)")
Limit = Query(100, ge=1, le=1000)


@router.get(ORG_PATH + "/audit", response_model=list[AuditEntryOut], responses=ERRORS,
            summary="The organization's audit events (Auditor)")
def org_events(org: str, p: Acting, s: DB, after: int = After, limit: int = Limit) -> list[AuditEntryOut]:
    return caudit.list_events(s, p, org, after_seq=after, limit=limit)


@router.get(ORG_PATH + "/audit/verify", response_model=ChainOut, responses=ERRORS,
            summary="Check the hash chain of the audit log (Auditor): any edited, removed or inserted event shows")
def org_verify(org: str, p: Acting, s: DB) -> ChainOut:
    require_role(s, p, org, (AUDITOR,), "verifying the audit log")
    v = caudit.verify_chain(s)  # one chain for the deployment; an organization's auditor sees only the verdict
    return ChainOut(ok=v.ok, first_bad_seq=v.first_bad_seq, reason=v.reason)


@router.get("/api/audit", response_model=list[AuditEntryOut], responses=ERRORS,
            summary="The deployment's audit events (operators serving every organization)")
def all_events(p: Acting, s: DB, after: int = After, limit: int = Limit) -> list[AuditEntryOut]:
    return caudit.list_events(s, p, None, after_seq=after, limit=limit)


@router.get("/api/audit/verify", response_model=ChainOut, responses=ERRORS,
            summary="Check the whole hash chain (operators serving every organization)")
def verify(p: Acting, s: DB) -> ChainOut:
    require_unrestricted_operator(p, "verifying the deployment's audit log")
    return ChainOut(**caudit.verify_chain(s).as_dict())
