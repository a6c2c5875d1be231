"""Groups of an organization (Admin) and their members; roles are given to groups."""

from __future__ import annotations

from fastapi import APIRouter, status

from mailark.control import identity
from mailark.control.orgs import NotFound
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import GroupIn, GroupOut, OkOut
from mailark.dashboards.deps import DB, Acting

router = APIRouter(prefix=ORG_PATH + "/groups", tags=["groups"])


def _get(s: DB, p: Acting, org: str, name: str) -> GroupOut:
    for g, members, roles in identity.list_groups(s, p, org):
        if g.name == name.strip():
            return GroupOut(name=g.name, members=members, roles=roles)
    raise NotFound(f"organization {org!r} has no group {name!r}")


@router.get("", response_model=list[GroupOut], responses=ERRORS, summary="Groups with their members and roles")
def list_(org: str, p: Acting, s: DB) -> list[GroupOut]:
    return [GroupOut(name=g.name, members=m, roles=r) for g, m, r in identity.list_groups(s, p, org)]


@router.post("", response_model=GroupOut, status_code=status.HTTP_201_CREATED, responses=ERRORS, summary="Add a group")
def add(org: str, body: GroupIn, p: Acting, s: DB) -> GroupOut:
    g = identity.create_group(s, p, org, body.name)
    return GroupOut(name=g.name, members=[], roles=[])


@router.delete("/{group}", response_model=OkOut, responses=ERRORS,
               summary="Delete a group (refused if it would leave no Admin)")
def delete(org: str, group: str, p: Acting, s: DB) -> OkOut:
    identity.delete_group(s, p, org, group)
    return OkOut()


@router.put("/{group}/members/{login}", response_model=GroupOut, responses=ERRORS, summary="Add a member")
def add_member(org: str, group: str, login: str, p: Acting, s: DB) -> GroupOut:
    identity.add_member(s, p, org, group, login)
    return _get(s, p, org, group)


@router.delete("/{group}/members/{login}", response_model=OkOut, responses=ERRORS,
               summary="Remove a member (refused if it would leave no Admin)")
def remove_member(org: str, group: str, login: str, p: Acting, s: DB) -> OkOut:
    """Answers only ok: an Admin who leaves the admins group may no longer read the group."""
    identity.remove_member(s, p, org, group, login)
    return OkOut()
