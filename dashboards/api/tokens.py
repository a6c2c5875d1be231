"""The API tokens of an organization's users, for its Admins (who revoke them with DELETE /api/auth/tokens/{id})."""

from __future__ import annotations

from fastapi import APIRouter

from mailark.control import auth as cauth
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import TokenOut
from mailark.dashboards.deps import DB, Acting

router = APIRouter(prefix=ORG_PATH, tags=["auth"])


class OrgTokenOut(TokenOut):
    owner: str


@router.get("/tokens", response_model=list[OrgTokenOut], responses=ERRORS,
            summary="API tokens of the organization's users, never the secrets (Admin)")
def list_org(org: str, p: Acting, s: DB) -> list[OrgTokenOut]:
    return [OrgTokenOut(owner=login, id=t.id, name=t.name, created_at=t.created_at, expires_at=t.expires_at,
                        revoked_at=t.revoked_at, last_used_at=t.last_used_at)
            for login, t in cauth.list_org_tokens(s, p, org)]
