"""Roles (Admin, Reader, Compliance, Auditor) given to a group or, directly, to a user (Admin)."""

from __future__ import annotations

from fastapi import APIRouter

from mailark.control import identity
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import OkOut, RoleIn
from mailark.dashboards.deps import DB, Acting

router = APIRouter(prefix=ORG_PATH + "/roles", tags=["roles"])


@router.post("/assign", response_model=OkOut, responses=ERRORS, summary="Give a role to a group or user")
def assign(org: str, body: RoleIn, p: Acting, s: DB) -> OkOut:
    identity.assign_role(s, p, org, body.role, group=body.group, user=body.user)
    return OkOut()


@router.post("/revoke", response_model=OkOut, responses=ERRORS,
             summary="Take a role from a group or user (refused if it would leave no Admin)")
def revoke(org: str, body: RoleIn, p: Acting, s: DB) -> OkOut:
    identity.revoke_role(s, p, org, body.role, group=body.group, user=body.user)
    return OkOut()
