"""Organizations: operators create them (with a licence) and list those they serve; users see their own."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import select

from mailark.control import auth as cauth
from mailark.control.orgs import ControlError, create_org, list_orgs
from mailark.control.principals import can_see_org, visible_org
from mailark.dashboards.api.common import ERRORS, ORG_PATH, org_out
from mailark.dashboards.api.models import CreatedOrgOut, MfaIn, OrgIn, OrgOut, ReadersIn
from mailark.dashboards.deps import DB, Acting, Ctx

router = APIRouter(tags=["orgs"])


@router.get("/api/orgs", response_model=list[OrgOut], responses=ERRORS, summary="Organizations you can see")
def list_(p: Acting, s: DB) -> list[OrgOut]:
    return [org_out(o) for o in list_orgs(s) if can_see_org(p, o.id)]


@router.post("/api/orgs", response_model=CreatedOrgOut, status_code=status.HTTP_201_CREATED, responses=ERRORS,
             summary="Create an organization with its licence and first admin (operators serving every organization)")
def create(body: OrgIn, p: Acting, s: DB, ctx: Ctx) -> CreatedOrgOut:
    if body.send_invite and not body.invite_to:
        raise ControlError("give invite_to, the e-mail address of the organization's first admin: admin@"
                           f"{body.name} is not a mail address")
    c = create_org(s, body.name, ctx.runtime.master_key, users=body.users, storage_gb=body.storage_gb,
                   trial=body.trial, mailboxes_per_user=body.mailboxes_per_user, auto_expand=body.auto_expand, actor=p)
    sent_to = None
    if body.send_invite:
        from mailark.control.models import User
        from mailark.operations.invites import invite_user

        admin = s.scalar(select(User).where(User.login == c.admin_login))
        sent_to = invite_user(s, p, ctx.runtime.settings, admin, body.invite_to)  # type: ignore[arg-type]
    return CreatedOrgOut(**org_out(c.org).model_dump(), admin_login=c.admin_login,
                         admin_password=None if sent_to else c.admin_password, invite_sent_to=sent_to)


@router.get(ORG_PATH, response_model=OrgOut, responses=ERRORS, summary="One organization")
def get(org: str, p: Acting, s: DB) -> OrgOut:
    from mailark.control.support import notice_for

    o = visible_org(s, p, org)
    return org_out(o).model_copy(update={"support_access_active": bool(notice_for(s, p, o))})


@router.put(ORG_PATH + "/mfa", response_model=OrgOut, responses=ERRORS,
            summary="Require TOTP for every user of the organization (Admin)")
def set_mfa(org: str, body: MfaIn, p: Acting, s: DB) -> OrgOut:
    cauth.set_mfa_required(s, p, org, body.required)
    return org_out(visible_org(s, p, org))


@router.put(ORG_PATH + "/readers", response_model=OrgOut, responses=ERRORS,
            summary="Every user a Reader by rule, or only users given the Reader role (Admin)")
def set_readers(org: str, body: ReadersIn, p: Acting, s: DB) -> OrgOut:
    from mailark.control.identity import set_readers_by_default

    set_readers_by_default(s, p, org, body.by_default)
    return org_out(visible_org(s, p, org))
