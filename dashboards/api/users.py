"""Users of an organization (Admin): add within the licence, disable, delete, reset password or TOTP."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.orm import object_session

from mailark.control import auth as cauth
from mailark.control import identity
from mailark.control.models import User
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import ActiveIn, NewUserOut, OkOut, PasswordResetOut, RolesOut, UserIn, UserOut
from mailark.dashboards.deps import DB, Acting, Ctx

router = APIRouter(prefix=ORG_PATH + "/users", tags=["users"])


def _out(u: User) -> UserOut:
    directory = None
    if u.directory_profile_id:
        from mailark.control.models import DirectoryProfile

        p = object_session(u).get(DirectoryProfile, u.directory_profile_id)  # type: ignore[union-attr]
        directory = p.name if p else None
    return UserOut(login=u.login, display_name=u.display_name, active=u.active,
                   must_change_password=u.must_change_password, totp_enabled=u.totp_enabled, created_at=u.created_at,
                   directory=directory)


@router.get("", response_model=list[UserOut], responses=ERRORS, summary="The organization's users")
def list_(org: str, p: Acting, s: DB) -> list[UserOut]:
    return [_out(u) for u in identity.list_users(s, p, org)]


@router.post("", response_model=NewUserOut, status_code=status.HTTP_201_CREATED, responses=ERRORS,
             summary="Add a user (refused with 409 beyond the licence)")
def add(org: str, body: UserIn, p: Acting, s: DB, ctx: Ctx) -> NewUserOut:
    n = identity.create_user(s, p, org, body.login, password=body.password, display_name=body.display_name,
                             with_mailbox=body.with_mailbox, roles=tuple(body.roles))
    sent_to = None
    if body.send_invite:
        from mailark.operations.invites import invite_user

        sent_to = invite_user(s, p, ctx.runtime.settings, n.user, body.invite_to)
    return NewUserOut(**_out(n.user).model_dump(), one_time_password=None if sent_to else n.one_time_password,
                      mailbox=n.mailbox.primary_address if n.mailbox else None, invite_sent_to=sent_to)


@router.get("/{login}", response_model=UserOut, responses=ERRORS, summary="One user")
def get(org: str, login: str, p: Acting, s: DB) -> UserOut:
    return _out(identity.get_user(s, p, org, login))


@router.delete("/{login}", response_model=OkOut, responses=ERRORS,
               summary="Delete a user (frees the licence; the user's mailboxes stay; never the last Admin)")
def delete(org: str, login: str, p: Acting, s: DB) -> OkOut:
    identity.delete_user(s, p, org, login)
    return OkOut()


@router.put("/{login}/active", response_model=UserOut, responses=ERRORS, summary="Enable or disable a user")
def set_active(org: str, login: str, body: ActiveIn, p: Acting, s: DB) -> UserOut:
    user = identity.get_user(s, p, org, login)  # read first: an Admin disabling itself may read nothing after
    identity.set_user_active(s, p, org, login, body.active)
    return _out(user)


@router.post("/{login}/password-reset", response_model=PasswordResetOut, responses=ERRORS,
             summary="Give the user a new one-time password")
def reset_password(org: str, login: str, p: Acting, s: DB) -> PasswordResetOut:
    return PasswordResetOut(login=login.strip().lower(), one_time_password=cauth.reset_password(s, p, org, login))


@router.post("/{login}/totp-reset", response_model=OkOut, responses=ERRORS, summary="Remove the user's TOTP")
def reset_totp(org: str, login: str, p: Acting, s: DB) -> OkOut:
    cauth.reset_totp(s, p, org, login)
    return OkOut()


@router.get("/{login}/roles", response_model=RolesOut, responses=ERRORS, summary="The user's roles (direct and by group)")
def roles(org: str, login: str, p: Acting, s: DB) -> RolesOut:
    return RolesOut(login=login.strip().lower(), roles=sorted(identity.roles_of(s, p, org, login)))
