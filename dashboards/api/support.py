"""Support access grants: an organization's Admin or Compliance lets a named MSP operator read named
mailboxes for a while (control.support); operators see their own grants."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, status

from mailark.control import support
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import SupportGrantIn, SupportGrantOut
from mailark.dashboards.deps import DB, Acting

router = APIRouter(prefix=ORG_PATH + "/support-grants", tags=["support"])


def _out(v: support.GrantView) -> SupportGrantOut:
    return SupportGrantOut(**asdict(v))


@router.get("", response_model=list[SupportGrantOut], responses=ERRORS,
            summary="Support grants of the organization (Admin, Compliance; an operator sees its own)")
def list_(org: str, p: Acting, s: DB, active: bool = False) -> list[SupportGrantOut]:
    return [_out(v) for v in support.list_grants(s, p, org, active_only=active)]


@router.post("", response_model=SupportGrantOut, status_code=status.HTTP_201_CREATED, responses=ERRORS,
             summary="Let an MSP operator read named mailboxes for a while (Admin, Compliance)")
def create(org: str, body: SupportGrantIn, p: Acting, s: DB) -> SupportGrantOut:
    return _out(support.grant(s, p, org, body.operator, body.mailboxes, hours=body.hours, reason=body.reason))


@router.delete("/{grant_id}", response_model=SupportGrantOut, responses=ERRORS,
               summary="Revoke a support grant at once (Admin, Compliance)")
def revoke(org: str, grant_id: str, p: Acting, s: DB) -> SupportGrantOut:
    return _out(support.revoke(s, p, org, grant_id))
