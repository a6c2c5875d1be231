"""Domains, users, groups and roles of an organization.

Every function takes the session, the acting principal and the organization (name or row), checks
authorization itself (Admin of that organization, or an operator serving it) and audits the change
in the same transaction. Whatever would leave an organization without an active Admin is refused:
the change runs in a savepoint, the Admins are counted, and the savepoint is rolled back if none is
left.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.orm import Session

from mailark.control import audit, licensing
from mailark.control.auth import end_all_sessions, hash_password, one_time_password
from mailark.control.models import Domain, Group, GroupMember, Mailbox, Organization, RoleAssignment, User
from mailark.control.orgs import Conflict, ControlError, NotFound, new_id, reserved_domain
from mailark.control.principals import ADMIN, ROLES, Principal, require_admin, user_roles
from mailark.control.sources import disable_sources_filling_domain, remove_domain_sources

LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Local domains follow the organization names' rule (a-z 0-9 _ -): `my_org` is a valid local domain (issue 14).
LOCAL_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
USERNAME = re.compile(r"^[a-z0-9](?:[a-z0-9._+-]{0,62}[a-z0-9_])?$")
GROUP_NAME = re.compile(r"^[\w][\w .-]{0,99}$")


# ---- domains ---------------------------------------------------------------------------------------


def validate_domain(name: str, kind: str) -> str:
    """local: any FQDN syntax (one label or more); global: an internet domain (two labels or more, letter TLD)."""
    d = name.strip().lower().rstrip(".")
    if kind not in ("local", "global"):
        raise ControlError(f"invalid domain kind {kind!r}: use local or global")
    labels = d.split(".")
    label = LOCAL_LABEL if kind == "local" else LABEL
    if not d or len(d) > 253 or not all(label.match(lb) for lb in labels):
        allowed = "a-z, 0-9, '_' and '-' ('-' not at either end)" if kind == "local" else "a-z, 0-9 and '-' (not at either end)"
        raise ControlError(
            f"invalid domain {name!r}: use labels of {allowed}, "
            f"at most 63 characters each, separated by dots"
        )
    if kind == "global" and (len(labels) < 2 or not re.fullmatch(r"[a-z]{2,63}|xn--[a-z0-9-]+", labels[-1])):
        raise ControlError(f"invalid global domain {name!r}: an internet domain such as example.com (or add it as local)")
    return d


def default_domain(org: Organization, now: datetime) -> Domain:
    return Domain(id=new_id(), org_id=org.id, name=org.name, kind="local", is_default=True, created_at=now)


def add_domain(session: Session, principal: Principal, org: Organization | str, name: str, kind: str = "local") -> Domain:
    o = require_admin(session, principal, org, "adding a domain")
    d = validate_domain(name, kind)
    taken = session.scalar(select(Domain).where(Domain.name == d))
    if taken is not None and taken.org_id == o.id:
        raise Conflict(f"domain {d!r} is already a domain of this organization")
    # One neutral refusal whether another organization holds it as a domain, is named so, or the name is
    # reserved (the journal domain, localhost): it must not tell an Admin that another organization exists.
    if taken is not None or reserved_domain(d, o.name) or session.scalar(select(Organization.id).where(Organization.name == d)):
        raise Conflict(f"domain {d!r} is already taken on this deployment")
    dom = Domain(id=new_id(), org_id=o.id, name=d, kind=kind, is_default=False, created_at=datetime.now(UTC))
    session.add(dom)
    audit.record(session, principal, "domain.add", org_id=o.id, target=d, details={"kind": kind})
    return dom


def list_domains(session: Session, principal: Principal, org: Organization | str) -> list[Domain]:
    o = require_admin(session, principal, org, "listing domains")
    return list(session.scalars(select(Domain).where(Domain.org_id == o.id).order_by(Domain.name)))


@dataclass(frozen=True)
class DomainRemoval:
    domain: str
    sources_removed: list[str]  # profiles that served the domain (removed with it)
    sources_disabled: list[str]  # profiles that fill an archive mailbox with an address in it (disabled)


def remove_domain(session: Session, principal: Principal, org: Organization | str, name: str) -> DomainRemoval:
    """Another organization may take the domain afterwards; archive mailboxes keep their addresses (and
    their mail), but every source that fills one of them is disabled, so that once the domain has moved,
    its mail is not archived into this organization any more. The answer says which."""
    o = require_admin(session, principal, org, "removing a domain")
    d = name.strip().lower().rstrip(".")
    dom = session.scalar(select(Domain).where(Domain.org_id == o.id, Domain.name == d))
    if dom is None:
        raise NotFound(f"organization {o.name!r} has no domain {d!r}")
    if dom.is_default:
        raise Conflict(f"{d!r} is the organization's name and default domain: it cannot be removed")
    n = session.scalar(select(func.count()).select_from(User).where(User.domain_id == dom.id)) or 0
    refuse_synced(session, dom, f"domain {d!r}")
    if n:
        raise Conflict(f"{n} user(s) log in with domain {d!r}: delete them or move them to another domain first")
    removed = remove_domain_sources(session, principal, o, d)
    disabled = disable_sources_filling_domain(session, principal, o, d)
    session.delete(dom)
    audit.record(session, principal, "domain.remove", org_id=o.id, target=d,
                 details={"sources_removed": removed, "sources_disabled": disabled})
    return DomainRemoval(d, removed, disabled)


# ---- objects synced from a directory are read-only here --------------------------------------------


def refuse_synced(session: Session, obj: User | Group | Domain, what: str) -> None:
    """Refuse a hand edit of a user, group or domain that a directory profile manages (control.directory)."""
    profile_id = getattr(obj, "directory_profile_id", None)
    if profile_id:
        from mailark.control.models import DirectoryProfile

        p = session.get(DirectoryProfile, profile_id)
        raise Conflict(f"{what} is synced from the directory {p.name if p else '?'!r} and is read-only here: "
                       f"make the change in the directory; the next sync brings it to the archive")


# ---- users --------------------------------------------------------------------------------------------


def admin_count(session: Session, org_id: str) -> int:
    """Active users of the organization holding Admin directly or through a group."""
    via_group = (
        select(GroupMember.user_id)
        .join(RoleAssignment, RoleAssignment.group_id == GroupMember.group_id)
        .where(RoleAssignment.role == ADMIN)
    )
    direct = select(RoleAssignment.user_id).where(RoleAssignment.role == ADMIN, RoleAssignment.user_id.is_not(None))
    q = select(func.count()).select_from(User).where(
        User.org_id == org_id, User.active.is_(True), or_(User.id.in_(via_group), User.id.in_(direct))
    )
    return session.scalar(q) or 0


@contextmanager
def keeping_an_admin(session: Session, org: Organization, doing: str) -> Iterator[None]:
    """Run a change in a savepoint; undo it and refuse if the organization would have no Admin left."""
    with session.begin_nested():
        yield
        session.flush()
        if admin_count(session, org.id) == 0:
            raise Conflict(
                f"refused: {doing} would leave organization {org.name!r} without an Admin; "
                f"make another user an Admin first"
            )


def split_login(login: str) -> tuple[str, str]:
    a = login.strip().lower()
    if a.count("@") != 1:
        raise ControlError(f"invalid login {login!r}: users log in as name@domain")
    user, dom = a.split("@")
    if not USERNAME.match(user):
        raise ControlError(f"invalid user name {user!r}: use a-z, 0-9 and . _ + - (at most 64 characters)")
    return user, dom


def get_user(session: Session, principal: Principal, org: Organization | str, login: str) -> User:
    o = require_admin(session, principal, org, "looking up users")
    return _user(session, o, login)


def _user(session: Session, org: Organization, login: str) -> User:
    user = session.scalar(select(User).where(User.org_id == org.id, User.login == login.strip().lower()))
    if user is None:
        raise NotFound(f"organization {org.name!r} has no user {login!r}")
    return user


def list_users(session: Session, principal: Principal, org: Organization | str) -> list[User]:
    o = require_admin(session, principal, org, "listing users")
    return list(session.scalars(select(User).where(User.org_id == o.id).order_by(User.login)))


@dataclass(frozen=True)
class NewUser:
    user: User
    one_time_password: str | None  # set when no password was given: show it once
    mailbox: Mailbox | None


def create_user(
    session: Session,
    principal: Principal,
    org: Organization | str,
    login: str,
    *,
    password: str | None = None,
    display_name: str | None = None,
    with_mailbox: bool = False,
    roles: tuple[str, ...] = (),
    audit_event: bool = True,
) -> NewUser:
    """A user logging in as name@domain (a domain of this organization); counts against the licence.

    `with_mailbox` also creates the user's archive mailbox (primary address = the login) and gives
    the user read access to it at once.
    """
    o = require_admin(session, principal, org, "adding a user")
    username, dom_name = split_login(login)
    dom = session.scalar(select(Domain).where(Domain.name == dom_name))
    if dom is None or dom.org_id != o.id:
        raise ControlError(f"domain {dom_name!r} is not a domain of organization {o.name!r}: add it first")
    refuse_synced(session, dom, f"domain {dom_name!r} (and so its users)")
    lg = f"{username}@{dom_name}"
    if session.scalar(select(User.id).where(User.login == lg)) is not None:
        raise Conflict(f"user {lg!r} already exists")
    for r in roles:
        check_role(r)
    licensing.check_can_add_user(session, o)
    with session.begin_nested():  # user and mailbox together, or neither
        generated = None if password else one_time_password()
        user = User(
            id=new_id(), org_id=o.id, domain_id=dom.id, username=username, login=lg, display_name=display_name,
            password_hash=hash_password(password or generated, login),  # type: ignore[arg-type]
            must_change_password=generated is not None, active=True, created_at=datetime.now(UTC),
        )
        session.add(user)
        session.flush()
        for r in roles:
            session.add(RoleAssignment(org_id=o.id, role=r, user_id=user.id))
        if audit_event:
            audit.record(session, principal, "user.create", org_id=o.id, target=lg,
                         details={"roles": list(roles), "with_mailbox": with_mailbox})
        mb = None
        if with_mailbox:
            from mailark.control.mailboxes import create_mailbox

            mb = create_mailbox(session, principal, o, lg, kind="user", owner=lg, display_name=display_name)
    return NewUser(user, generated, mb)


def delete_user(session: Session, principal: Principal, org: Organization | str, login: str, *,
                by_directory: bool = False) -> None:
    """Frees the user's licence; the user's archive mailboxes stay (and keep counting).

    `by_directory`: the directory sync removes a user it manages (no one else may).
    """
    o = require_admin(session, principal, org, "deleting a user")
    user = _user(session, o, login)
    if not by_directory:
        refuse_synced(session, user, f"user {user.login}")
    with keeping_an_admin(session, o, f"deleting {user.login}"):
        for mb in session.scalars(select(Mailbox).where(Mailbox.owner_user_id == user.id)):
            mb.owner_user_id = None
        end_all_sessions(session, "user", user.id)
        session.delete(user)
    audit.record(session, principal, "user.delete", org_id=o.id, target=login.strip().lower())


def set_user_active(session: Session, principal: Principal, org: Organization | str, login: str, active: bool, *,
                    by_directory: bool = False) -> None:
    o = require_admin(session, principal, org, "disabling or enabling a user")
    user = _user(session, o, login)
    if not by_directory:
        refuse_synced(session, user, f"user {user.login}")
    with keeping_an_admin(session, o, f"disabling {user.login}"):
        user.active = active
        if not active:
            end_all_sessions(session, "user", user.id)
    audit.record(session, principal, "user.enable" if active else "user.disable", org_id=o.id, target=user.login)


# ---- groups ---------------------------------------------------------------------------------------------


def _group(session: Session, org: Organization, name: str) -> Group:
    g = session.scalar(select(Group).where(Group.org_id == org.id, Group.name == name.strip()))
    if g is None:
        raise NotFound(f"organization {org.name!r} has no group {name!r}")
    return g


def create_group(session: Session, principal: Principal, org: Organization | str, name: str, *, audit_event: bool = True) -> Group:
    o = require_admin(session, principal, org, "adding a group")
    n = name.strip()
    if not GROUP_NAME.match(n):
        raise ControlError(f"invalid group name {name!r}: letters, digits, space, '.', '_' or '-', at most 100")
    if session.scalar(select(Group.id).where(Group.org_id == o.id, Group.name == n)) is not None:
        raise Conflict(f"group {n!r} already exists")
    g = Group(id=new_id(), org_id=o.id, name=n, created_at=datetime.now(UTC))
    session.add(g)
    session.flush()
    if audit_event:
        audit.record(session, principal, "group.create", org_id=o.id, target=n)
    return g


def delete_group(session: Session, principal: Principal, org: Organization | str, name: str, *,
                 by_directory: bool = False) -> None:
    o = require_admin(session, principal, org, "deleting a group")
    g = _group(session, o, name)
    if not by_directory:
        refuse_synced(session, g, f"group {g.name!r}")
    with keeping_an_admin(session, o, f"deleting group {g.name!r}"):
        session.delete(g)
    audit.record(session, principal, "group.delete", org_id=o.id, target=name)


def list_groups(session: Session, principal: Principal, org: Organization | str) -> list[tuple[Group, list[str], list[str]]]:
    """Each group with its members' logins and its roles."""
    o = require_admin(session, principal, org, "listing groups")
    out = []
    for g in session.scalars(select(Group).where(Group.org_id == o.id).order_by(Group.name)):
        members = list(session.scalars(select(User.login).join(GroupMember, GroupMember.user_id == User.id)
                                       .where(GroupMember.group_id == g.id).order_by(User.login)))
        roles = sorted(session.scalars(select(RoleAssignment.role).where(RoleAssignment.group_id == g.id)))
        out.append((g, members, roles))
    return out


def add_member(
    session: Session, principal: Principal, org: Organization | str, group: str, login: str, *, audit_event: bool = True,
    by_directory: bool = False,
) -> None:
    o = require_admin(session, principal, org, "changing group members")
    g, user = _group(session, o, group), _user(session, o, login)
    if not by_directory:
        refuse_synced(session, g, f"the membership of group {g.name!r}")
    if session.get(GroupMember, (g.id, user.id)) is None:
        session.add(GroupMember(group_id=g.id, user_id=user.id))
        session.flush()
    if audit_event:
        audit.record(session, principal, "group.add_member", org_id=o.id, target=g.name, details={"user": user.login})


def remove_member(session: Session, principal: Principal, org: Organization | str, group: str, login: str, *,
                  by_directory: bool = False) -> None:
    o = require_admin(session, principal, org, "changing group members")
    g, user = _group(session, o, group), _user(session, o, login)
    if not by_directory:
        refuse_synced(session, g, f"the membership of group {g.name!r}")
    m = session.get(GroupMember, (g.id, user.id))
    if m is None:
        raise NotFound(f"{user.login} is not a member of group {g.name!r}")
    with keeping_an_admin(session, o, f"removing {user.login} from group {g.name!r}"):
        session.delete(m)
    audit.record(session, principal, "group.remove_member", org_id=o.id, target=g.name, details={"user": user.login})


# ---- roles ------------------------------------------------------------------------------------------------


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ControlError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return role


def _role_target(session: Session, org: Organization, group: str | None, user: str | None) -> tuple[str | None, str | None, str]:
    if (group is None) == (user is None):
        raise ControlError("give exactly one of a group or a user")
    if group is not None:
        return _group(session, org, group).id, None, f"group {group}"
    u = _user(session, org, user)  # type: ignore[arg-type]
    return None, u.id, f"user {u.login}"


def assign_role(
    session: Session, principal: Principal, org: Organization | str, role: str, *, group: str | None = None,
    user: str | None = None, audit_event: bool = True, by_directory: bool = False,
) -> None:
    """Roles go to groups (and so to their members); a direct user role is allowed too.

    The roles of a synced group come from its directory profile's role mapping.
    """
    o = require_admin(session, principal, org, "assigning roles")
    check_role(role)
    gid, uid, what = _role_target(session, o, group, user)
    if gid is not None and not by_directory:
        refuse_synced(session, _group(session, o, group), f"the roles of group {group!r} (set by the role mapping)")  # type: ignore[arg-type]
    found = session.scalar(select(RoleAssignment.id).where(
        RoleAssignment.org_id == o.id, RoleAssignment.role == role,
        RoleAssignment.group_id.is_(None) if gid is None else RoleAssignment.group_id == gid,
        RoleAssignment.user_id.is_(None) if uid is None else RoleAssignment.user_id == uid))
    if found is None:
        session.add(RoleAssignment(org_id=o.id, role=role, group_id=gid, user_id=uid))
        session.flush()
    if audit_event:
        audit.record(session, principal, "role.assign", org_id=o.id, target=what, details={"role": role})


def revoke_role(
    session: Session, principal: Principal, org: Organization | str, role: str, *, group: str | None = None,
    user: str | None = None, by_directory: bool = False,
) -> None:
    o = require_admin(session, principal, org, "revoking roles")
    check_role(role)
    gid, uid, what = _role_target(session, o, group, user)
    if gid is not None and not by_directory:
        refuse_synced(session, _group(session, o, group), f"the roles of group {group!r} (set by the role mapping)")  # type: ignore[arg-type]
    cond = [RoleAssignment.org_id == o.id, RoleAssignment.role == role,
            RoleAssignment.group_id == gid if gid else RoleAssignment.user_id == uid]
    if not session.scalar(select(exists().where(*cond))):
        raise NotFound(f"{what} does not hold the {role} role directly")
    with keeping_an_admin(session, o, f"taking the {role} role from {what}"):
        session.execute(delete(RoleAssignment).where(*cond))
    audit.record(session, principal, "role.revoke", org_id=o.id, target=what, details={"role": role})


def roles_of(session: Session, principal: Principal, org: Organization | str, login: str) -> frozenset[str]:
    o = require_admin(session, principal, org, "looking up roles")
    return user_roles(session, _user(session, o, login).id)




def set_readers_by_default(session: Session, principal: Principal, org: Organization | str, by_default: bool) -> None:
    """Whether every user reads their own and granted mailboxes by rule (True, the default for new
    organizations) or only users given the Reader role, directly or through a group (False)."""
    o = require_admin(session, principal, org, "changing who reads mail")
    o.readers_by_default = by_default
    audit.record(session, principal, "org.readers_by_default", org_id=o.id, target=o.name,
                 details={"readers_by_default": by_default})
