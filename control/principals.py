"""Who is acting, and what they may do in an organization.

A `Principal` (control.actors, re-exported here) is only an identity (made per request by the API, once by the CLI); roles are read
from the database at each check so that a demotion takes effect at once (a session remembers a user's
roles until its next write or the end of its transaction, so one request reads them once). Outsiders get NotFound,
never Forbidden: a principal of one organization cannot learn that another exists.
"""

from __future__ import annotations

from sqlalchemy import bindparam, event, func, or_, select
from sqlalchemy.orm import Session

from mailark.control.actors import Principal, can_see_org
from mailark.control.models import GroupMember, Operator, OperatorOrg, Organization, RoleAssignment, User
from mailark.control.orgs import Forbidden, NotFound

ADMIN, READER, COMPLIANCE, AUDITOR = "Admin", "Reader", "Compliance", "Auditor"
ROLES = (ADMIN, READER, COMPLIANCE, AUDITOR)
# What an HTTP operator account holds in an organization it serves: management and the audit log, no content.
OPERATOR_ROLES = frozenset((ADMIN, AUDITOR))


def user_principal(user: User) -> Principal:
    return Principal("user", user.id, user.login, org_id=user.org_id)


def operator_principal(session: Session, op: Operator) -> Principal:
    org_ids = None
    if not op.all_orgs:
        org_ids = frozenset(session.scalars(select(OperatorOrg.org_id).where(OperatorOrg.operator_id == op.id)))
    return Principal("operator", op.id, op.name, org_ids=org_ids)


def visible_org(session: Session, principal: Principal, org: Organization | str) -> Organization:
    """The organization if the principal may see it; otherwise NotFound, exactly as if it did not exist."""
    name = org if isinstance(org, str) else org.name
    if not isinstance(org, str):
        found: Organization | None = org
    elif principal.kind == "user":
        found = _org_with_user(session, name, principal.id)
    else:
        found = session.scalar(select(Organization).where(Organization.name == name))
    if found is None or not can_see_org(principal, found.id):
        raise NotFound(f"no organization named {name!r}")
    return found


_ROLES_SEEN = "mailark.user_roles"  # session.info key: user id -> roles read in this transaction
_USERS_SEEN = "mailark.users"  # session.info key: user id -> the User read with its organization
_ROLE_SEPARATOR = ","  # role names are ROLES: no commas

# A user's organization, the user and their roles in one statement, built once: nearly every request of
# a user resolves the organization and then reads the user's roles (and a search the user): that was
# four statements (the organization, the user, `active`, the roles), each costing more to build and
# run through the ORM than the database spends on it.
_ORG_USER_ROLES = (
    select(Organization, User, select(func.aggregate_strings(RoleAssignment.role, _ROLE_SEPARATOR))
           .where(or_(RoleAssignment.user_id == bindparam("user_id"),
                      RoleAssignment.group_id.in_(select(GroupMember.group_id)
                                                  .where(GroupMember.user_id == bindparam("user_id")))))
           .scalar_subquery())
    .outerjoin(User, User.id == bindparam("user_id"))
    .where(Organization.name == bindparam("name"))
)


def _org_with_user(session: Session, name: str, user_id: str) -> Organization | None:
    """The organization named `name`; the user (now in the session) and their roles (in this
    transaction's cache, as `user_roles` would read them) come with it."""
    row = session.execute(_ORG_USER_ROLES, {"name": name, "user_id": user_id}).first()
    if row is None:
        return None
    org, user, roles = row
    active = user is not None and user.active
    session.info.setdefault(_ROLES_SEEN, {})[user_id] = (
        frozenset(roles.split(_ROLE_SEPARATOR)) if active and roles else frozenset())
    session.info.setdefault(_USERS_SEEN, {})[user_id] = user  # the session's identity map holds it only weakly
    return org  # type: ignore[no-any-return]


def user_of(session: Session, user_id: str) -> User | None:
    """`session.get(User, user_id)`, without a statement when `visible_org` read the user with the
    organization in this transaction (and nothing was written since)."""
    seen: dict[str, User | None] = session.info.get(_USERS_SEEN, {})
    return seen[user_id] if user_id in seen else session.get(User, user_id)


def user_roles(session: Session, user_id: str) -> frozenset[str]:
    """Roles of an active user: direct ones and those of the user's groups (read once per transaction
    while it writes nothing: a search checks them twice and paid two queries)."""
    seen: dict[str, frozenset[str]] = session.info.setdefault(_ROLES_SEEN, {})
    if user_id not in seen:
        seen[user_id] = _read_user_roles(session, user_id)
    return seen[user_id]


def _read_user_roles(session: Session, user_id: str) -> frozenset[str]:
    active = session.scalar(select(User.active).where(User.id == user_id))
    if not active:
        return frozenset()
    groups = select(GroupMember.group_id).where(GroupMember.user_id == user_id)
    q = select(RoleAssignment.role).where(or_(RoleAssignment.user_id == user_id, RoleAssignment.group_id.in_(groups)))
    return frozenset(session.scalars(q))


@event.listens_for(Session, "after_flush")
@event.listens_for(Session, "after_transaction_end")
def _forget_roles(session: Session, *_: object) -> None:
    """Any write (it may be a role, a group or a user's `active`) or a new transaction reads them again."""
    session.info.pop(_ROLES_SEEN, None)
    session.info.pop(_USERS_SEEN, None)


@event.listens_for(Session, "do_orm_execute")
def _forget_roles_on_dml(state) -> None:  # type: ignore[no-untyped-def]
    if not state.is_select:  # an UPDATE or DELETE statement bypasses the flush
        state.session.info.pop(_ROLES_SEEN, None)
        state.session.info.pop(_USERS_SEEN, None)


def roles_in(session: Session, principal: Principal, org: Organization) -> frozenset[str]:
    if not can_see_org(principal, org.id):
        return frozenset()
    if principal.is_deployment:
        return frozenset(ROLES)
    if principal.is_operator:
        # An MSP operator account manages the organization but holds no content right (no Reader, no
        # Compliance): it reads mail only under a support grant the organization gives (control.support).
        return OPERATOR_ROLES
    return user_roles(session, principal.id)


def require_role(session: Session, principal: Principal, org: Organization | str, roles: tuple[str, ...], doing: str) -> Organization:
    """Resolve the organization and check that the principal holds one of `roles` in it."""
    o = visible_org(session, principal, org)
    if not roles_in(session, principal, o) & set(roles):
        raise Forbidden(f"{doing} needs the {' or '.join(roles)} role in organization {o.name!r}")
    return o


def require_admin(session: Session, principal: Principal, org: Organization | str, doing: str) -> Organization:
    return require_role(session, principal, org, (ADMIN,), doing)


def require_unrestricted_operator(principal: Principal, doing: str) -> None:
    if not principal.is_unrestricted_operator:
        raise Forbidden(f"{doing} is for MSP operators who serve every organization")


def require_operator(session: Session, principal: Principal, org: Organization | str, doing: str) -> Organization:
    o = visible_org(session, principal, org)
    if not principal.is_operator:
        raise Forbidden(f"{doing} is for the MSP operator (ask your provider)")
    return o
