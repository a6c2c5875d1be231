"""Read access to archive mailboxes for users and groups (Admin); journal mailboxes only via Compliance."""

from __future__ import annotations

from fastapi import APIRouter

from mailark.control import mailboxes as cmb
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import PermissionsOut
from mailark.dashboards.deps import DB, Acting

router = APIRouter(prefix=ORG_PATH + "/mailboxes/{address}/permissions", tags=["permissions"])


def _out(s: DB, p: Acting, org: str, address: str) -> PermissionsOut:
    return PermissionsOut(mailbox=address.strip().lower(), readers=cmb.list_permissions(s, p, org, address))


@router.get("", response_model=PermissionsOut, responses=ERRORS, summary="Who may read the mailbox")
def list_(org: str, address: str, p: Acting, s: DB) -> PermissionsOut:
    return _out(s, p, org, address)


@router.put("/users/{login}", response_model=PermissionsOut, responses=ERRORS, summary="Let a user read the mailbox")
def grant_user(org: str, address: str, login: str, p: Acting, s: DB) -> PermissionsOut:
    cmb.grant_read(s, p, org, address, user=login)
    return _out(s, p, org, address)


@router.delete("/users/{login}", response_model=PermissionsOut, responses=ERRORS, summary="Take a user's read access")
def revoke_user(org: str, address: str, login: str, p: Acting, s: DB) -> PermissionsOut:
    cmb.revoke_read(s, p, org, address, user=login)
    return _out(s, p, org, address)


@router.put("/groups/{group}", response_model=PermissionsOut, responses=ERRORS, summary="Let a group read the mailbox")
def grant_group(org: str, address: str, group: str, p: Acting, s: DB) -> PermissionsOut:
    cmb.grant_read(s, p, org, address, group=group)
    return _out(s, p, org, address)


@router.delete("/groups/{group}", response_model=PermissionsOut, responses=ERRORS, summary="Take a group's read access")
def revoke_group(org: str, address: str, group: str, p: Acting, s: DB) -> PermissionsOut:
    cmb.revoke_read(s, p, org, address, group=group)
    return _out(s, p, org, address)
