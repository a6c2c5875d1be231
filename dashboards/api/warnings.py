"""Warnings an admin should see: storage at 90 %, users or mailboxes at quota, a trial ending soon."""

from __future__ import annotations

from fastapi import APIRouter

from mailark.control import licensing
from mailark.control.principals import visible_org
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import WarningOut
from mailark.dashboards.deps import DB, Acting, Ctx

router = APIRouter(prefix=ORG_PATH, tags=["warnings"])


@router.get("/warnings", response_model=list[WarningOut], responses=ERRORS,
            summary="Licence warnings (Admin or Auditor)")
def warnings(org: str, p: Acting, s: DB, ctx: Ctx) -> list[WarningOut]:
    licensing.get_licence(s, p, org)  # the authorization check: Admin or Auditor of this organization
    o = visible_org(s, p, org)
    used = ctx.storage_used(ctx, o)
    return [WarningOut(**w.as_dict()) for w in licensing.licence_warnings(s, o, used)]  # type: ignore[arg-type]
