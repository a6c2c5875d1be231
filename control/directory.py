"""Directory sync rules: compare what a directory says (a DirectorySnapshot) with an organization,
plan the changes, and apply them one by one.

The rules (issue 6):
- Users, groups, domains and mailboxes a profile syncs carry its id and the directory's stable id
  (`external_id`): a renamed user stays the same user, and the archive refuses to edit them.
- A new user gets their archive mailbox (primary address + aliases) and read access to it at once:
  user, mailbox, addresses and permission are one savepoint, so a refusal (licence full, an address
  held by another mailbox) leaves nothing half made. The licence is checked per user: a sync that
  would exceed it adds what fits and reports the rest.
- A rename changes the login and the primary address; the old address stays on the mailbox as an
  alias (origin "retained") so archived mail stays findable under it and journal mail to it keeps
  arriving. An alias removed in the directory is removed from the mailbox (the mail archived under
  it stays in the mailbox: items belong to mailboxes, not to addresses). An address that was kept
  ("retained") gives way when the directory gives it to someone else.
- An existing mailbox with the user's primary address and no owner (e.g. filled by journaling before
  the directory was connected) is adopted, and so is a local user with the same login.
- Users deleted or disabled in the directory are removed or kept (disabled) as the profile says;
  groups deleted in the directory likewise. Archive mailboxes are never deleted by a sync.
- The accidental-delete guard (issue 18): a directory read that comes back empty or wrongly filtered
  looks exactly like everyone leaving. A sync that would remove or disable more synced users than the
  profile allows (`max_removals`, default 10 users, or `max_removal_percent`, default 10 % when more
  than one user goes) stops before changing anything; an admin who confirms the numbers runs it with
  `allow_mass_removal`.
- Roles and memberships of archive-made groups that a removed user held are kept (DepartedAccess)
  and given back when the same directory object (its stable id) is added again.
- A user mailbox's display name follows the user's display name.
- Roles come from the profile's `role_map` (directory group -> role). Nothing may leave the
  organization without an Admin: such a change is refused (identity's rule) and reported.
- Every applied change is audited by the function that makes it, acting as the principal that runs
  the sync (the system for the scheduled flow, or the admin who started it).

`plan_sync` only reads. `apply_plan` runs each change in its own savepoint and records its outcome;
a dry run applies the plan in a transaction that is rolled back, so it shows exactly what would
change, including what the licence or the last-Admin rule would refuse.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailark.control import audit, identity, licensing
from mailark.control.directory_profiles import POLICY_DEFAULTS, profile_config
from mailark.control.mailboxes import create_mailbox, profiles_filling, repoint_profiles
from mailark.control.models import (
    DepartedAccess, DirectoryProfile, Domain, Group, GroupMember, Mailbox, MailboxAddress, MailboxPermission,
    Organization, RoleAssignment, User,
)
from mailark.control.orgs import Conflict, ControlError, LimitExceeded, find_mailbox, new_address, new_id
from mailark.control.principals import Principal
from mailark.control.directory_records import DirectorySnapshot, DirectoryUser

GROUP_BAD = re.compile(r"[^A-Za-z0-9 ._-]+")

# Order of application: make things first, change them, connect them, and only then take away.
ORDER = ("group.create", "group.rename", "user.create", "shared.create", "user.rename", "user.update", "user.enable",
         "mailbox.addresses", "member.add", "role.assign", "member.remove", "role.revoke", "user.disable",
         "user.remove", "group.remove")


class Skip(ControlError):
    """A change that no longer applies (e.g. its user was not added): reported, not an error."""


@dataclass
class Change:
    action: str
    target: str
    details: dict[str, Any] = field(default_factory=dict)
    status: str = "planned"  # planned | done | refused | skipped
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SyncPlan:
    org_id: str
    org: str
    profile_id: str
    profile: str
    changes: list[Change]
    problems: list[str]
    users_seen: int
    groups_seen: int
    synced_users: int = 0  # users of this profile in the archive before the run


@dataclass(frozen=True)
class MassRemoval:
    """Why the accidental-delete guard stopped a sync: how many would go, out of how many, and the limits."""

    leaving: int
    synced: int
    max_removals: int
    max_removal_percent: int

    @property
    def percent(self) -> int:
        return round(100 * self.leaving / self.synced) if self.synced else 0

    def message(self) -> str:
        return (f"stopped before changing anything: this sync would remove or disable {self.leaving:,} of "
                f"{self.synced:,} synced users ({self.percent} %), more than the profile allows "
                f"({self.max_removals:,} users or {self.max_removal_percent} %). If the directory lost "
                f"them, check its filter and the service account; if they really left, sync again with "
                f"--allow-mass-removal (API: allow_mass_removal=true; web: \"Sync anyway\")")

    def as_dict(self) -> dict[str, int]:
        return {"leaving": self.leaving, "synced": self.synced, "percent": self.percent,
                "max_removals": self.max_removals, "max_removal_percent": self.max_removal_percent}


def mass_removal(plan: SyncPlan, cfg: dict[str, Any]) -> MassRemoval | None:
    """The guard's verdict on a plan: None when it may run, else the numbers that stop it."""
    leaving = len({c.details.get("external_id") for c in plan.changes if c.action in ("user.remove", "user.disable")})
    limit = int(cfg.get("max_removals", POLICY_DEFAULTS["max_removals"]))
    pct = int(cfg.get("max_removal_percent", POLICY_DEFAULTS["max_removal_percent"]))
    too_many = leaving > limit
    too_large_a_part = leaving > 1 and plan.synced_users > 0 and leaving * 100 > pct * plan.synced_users
    if not (too_many or too_large_a_part):
        return None
    return MassRemoval(leaving, plan.synced_users, limit, pct)


@dataclass
class SyncReport:
    org: str
    profile: str
    dry_run: bool
    changes: list[Change]
    problems: list[str]
    users_seen: int
    groups_seen: int
    error: str | None = None
    mass_removal: MassRemoval | None = None  # the guard stopped the run (error says so)

    @property
    def refused(self) -> list[Change]:
        return [c for c in self.changes if c.status == "refused"]

    @property
    def status(self) -> str:
        """ok, partial (some changes refused or entries left out) or failed (nothing could be read)."""
        if self.error:
            return "failed"
        return "partial" if self.refused or self.problems else "ok"

    def not_added_for_licence(self) -> list[str]:
        return [c.target for c in self.changes if c.action in ("user.create", "shared.create") and c.status == "refused"
                and c.details.get("limit")]

    def summary(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for c in self.changes:
            out.setdefault(c.action, Counter())[c.status] += 1  # type: ignore[index]
        return {k: dict(v) for k, v in out.items()}

    def message(self) -> str:
        """One paragraph for a person: what changed, what was refused and why."""
        if self.error:
            return f"directory sync {self.profile!r} of {self.org!r} failed: {self.error}"
        done = sum(1 for c in self.changes if c.status == "done")
        verb = "would make" if self.dry_run else "made"
        parts = [f"directory sync {self.profile!r} of {self.org!r}: {self.users_seen} users and {self.groups_seen} "
                 f"groups in the directory; {verb} {done} change(s)"]
        lic = self.not_added_for_licence()
        if lic:
            reason = next(c.reason for c in self.changes if c.target == lic[0] and c.status == "refused")
            parts.append(f"{len(lic)} user(s) not added because the licence is full ({', '.join(lic[:10])}"
                         f"{', ...' if len(lic) > 10 else ''}): {reason}")
        other = [c for c in self.refused if c.target not in lic]
        for c in other[:20]:
            parts.append(f"refused {c.action} {c.target}: {c.reason}")
        if len(other) > 20:
            parts.append(f"... and {len(other) - 20} more refused change(s)")
        for p in self.problems[:20]:
            parts.append(f"left out: {p}")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"org": self.org, "profile": self.profile, "dry_run": self.dry_run, "status": self.status,
                "message": self.message(), "users_seen": self.users_seen, "groups_seen": self.groups_seen,
                "summary": self.summary(), "not_added_for_licence": self.not_added_for_licence(),
                "problems": self.problems, "error": self.error,
                "mass_removal": self.mass_removal.as_dict() if self.mass_removal else None,
                "changes": [c.as_dict() for c in self.changes]}


# ---- planning (reads only) ---------------------------------------------------------------------------


def group_name(name: str) -> str:
    """A directory group's name as an archive group name (letters, digits, space . _ -; at most 100)."""
    n = GROUP_BAD.sub("-", name.strip()).strip(" -")[:100]
    return n or "group"


def _normalize(du: DirectoryUser, domains: set[str]) -> tuple[str, str, list[str]]:
    """(login, primary address, aliases) of a directory user, or ValueError saying why it cannot be synced."""
    try:
        username, dom = identity.split_login(du.login)
    except ControlError as e:
        raise ValueError(str(e)) from None
    if du.kind != "shared" and dom not in domains:
        raise ValueError(f"{du.login}: login domain {dom!r} is not a domain of this profile (add it with --domain)")
    try:
        primary = new_address(du.primary_address or du.login)
        aliases = [new_address(a) for a in du.aliases]
    except ControlError as e:
        raise ValueError(f"{du.login}: {e}") from None
    return f"{username}@{dom}", primary, [a for a in dict.fromkeys(aliases) if a != primary]


def _owned_mailbox(session: Session, profile_id: str, external_id: str) -> Mailbox | None:
    return session.scalar(select(Mailbox).where(Mailbox.directory_profile_id == profile_id,
                                                Mailbox.external_id == external_id))


def _addresses_of(mb: Mailbox | None) -> tuple[str | None, set[str]]:
    if mb is None:
        return None, set()
    return mb.primary_address, {a.address for a in mb.addresses if not a.is_primary and a.origin == "directory"}


def plan_sync(session: Session, profile: DirectoryProfile, snapshot: DirectorySnapshot) -> SyncPlan:
    org = session.get(Organization, profile.org_id)
    assert org is not None
    cfg = profile_config(profile)
    domains = set(session.scalars(select(Domain.name).where(Domain.directory_profile_id == profile.id)))
    users = {u.external_id: u for u in session.scalars(select(User).where(User.directory_profile_id == profile.id))}
    groups = {g.external_id: g for g in session.scalars(select(Group).where(Group.directory_profile_id == profile.id))}
    changes: list[Change] = []
    problems = list(snapshot.problems)
    ext_login: dict[str, str] = {}  # synced users that stay in the archive after this run
    removing: set[str] = set()  # synced users this run removes (their memberships go with them)
    seen: set[str] = set()

    for du in sorted(snapshot.users, key=lambda u: (u.login or "").lower()):
        if du.external_id in seen:
            problems.append(f"{du.login}: the directory lists the id {du.external_id} twice; the first entry counts")
            continue
        seen.add(du.external_id)
        try:
            login, primary, aliases = _normalize(du, domains)
        except ValueError as e:
            problems.append(str(e))
            continue
        base = {"external_id": du.external_id, "primary": primary, "aliases": aliases}
        if du.kind == "shared" and cfg.get("include_shared_mailboxes") is False:
            continue
        if du.kind == "shared":
            mb = _owned_mailbox(session, profile.id, du.external_id)
            if mb is None:
                changes.append(Change("shared.create", primary, {**base, "display_name": du.display_name}))
            elif _addresses_of(mb) != (primary, set(aliases)):
                changes.append(Change("mailbox.addresses", primary, {**base, "kind": "shared", "was": mb.primary_address}))
            continue
        u = users.get(du.external_id)
        if u is None:
            if not du.enabled:
                continue  # never in the archive and disabled in the directory: nothing to do
            changes.append(Change("user.create", login, {**base, "display_name": du.display_name, "dn": du.dn}))
            ext_login[du.external_id] = login
            continue
        if u.login != login:
            changes.append(Change("user.rename", u.login, {"external_id": du.external_id, "to": login}))
        mb = _owned_mailbox(session, profile.id, du.external_id)
        if ((u.display_name or None) != (du.display_name or None) or (u.directory_dn or None) != (du.dn or None)
                or (mb is not None and du.display_name and mb.display_name != du.display_name)):
            changes.append(Change("user.update", login, {"external_id": du.external_id, "display_name": du.display_name,
                                                         "dn": du.dn}))
        if mb is None or _addresses_of(mb) != (primary, set(aliases)):
            was_p, was_a = _addresses_of(mb)
            changes.append(Change("mailbox.addresses", login, {
                **base, "kind": "user", "was": was_p, "added": sorted(set(aliases) - was_a),
                "removed": sorted(was_a - set(aliases))}))
        if not du.enabled:
            why = {"external_id": du.external_id, "why": "disabled in the directory"}
            if cfg.get("disabled_users") == "remove":
                changes.append(Change("user.remove", login, why))
                removing.add(du.external_id)
                continue
            if u.active:
                changes.append(Change("user.disable", login, why))
        elif not u.active:
            changes.append(Change("user.enable", login, {"external_id": du.external_id}))
        ext_login[du.external_id] = login

    for ext, u in users.items():
        if ext in seen:
            continue
        why = {"external_id": ext, "why": "deleted from the directory (or no longer selected by the user filter)"}
        if cfg.get("deleted_users") == "remove":
            changes.append(Change("user.remove", u.login, why))
            removing.add(ext)
        elif u.active:
            changes.append(Change("user.disable", u.login, why))

    role_map = {k.lower(): v for k, v in (cfg.get("role_map") or {}).items()}
    seen_groups: set[str] = set()
    for dg in sorted(snapshot.groups, key=lambda g: g.name.lower()):
        if dg.external_id in seen_groups:
            continue
        seen_groups.add(dg.external_id)
        name = group_name(dg.name)
        g = groups.get(dg.external_id)
        if g is None:
            clash = session.scalar(select(Group).where(Group.org_id == org.id, Group.name == name))
            if clash is not None:
                problems.append(f"group {dg.name!r}: the archive has a group named {name!r} that this directory does "
                                f"not manage: rename or delete it, then sync again")
                continue
            changes.append(Change("group.create", name, {"external_id": dg.external_id, "directory_name": dg.name}))
            current_members: set[str] = set()
            current_roles: set[str] = set()
        else:
            if g.name != name:
                changes.append(Change("group.rename", g.name, {"external_id": dg.external_id, "to": name}))
            current_members = set(session.scalars(
                select(User.external_id).join(GroupMember, GroupMember.user_id == User.id)
                .where(GroupMember.group_id == g.id, User.directory_profile_id == profile.id)))
            current_roles = set(session.scalars(select(RoleAssignment.role).where(RoleAssignment.group_id == g.id)))
        desired = {m for m in dg.member_ids if m in ext_login}
        for m in sorted(desired - current_members, key=lambda x: ext_login[x]):
            changes.append(Change("member.add", name, {"group_id": dg.external_id, "user_id": m, "user": ext_login[m]}))
        for m in sorted(current_members - desired):
            login = ext_login.get(m) or (users[m].login if m in users else m)
            if m not in removing:
                changes.append(Change("member.remove", name, {"group_id": dg.external_id, "user_id": m, "user": login}))
        role = role_map.get(dg.name.lower()) or role_map.get(name.lower())
        wanted = {role} if role else set()
        for r in sorted(wanted - current_roles):
            changes.append(Change("role.assign", name, {"group_id": dg.external_id, "role": r}))
        for r in sorted(current_roles - wanted):
            changes.append(Change("role.revoke", name, {"group_id": dg.external_id, "role": r}))

    for ext, g in groups.items():
        if ext not in seen_groups and cfg.get("deleted_groups") == "remove":
            changes.append(Change("group.remove", g.name, {"external_id": ext, "why": "deleted from the directory"}))

    changes.sort(key=lambda c: ORDER.index(c.action))  # stable: the order within an action stays
    return SyncPlan(org.id, org.name, profile.id, profile.name, changes, problems, len(snapshot.users),
                    len(snapshot.groups), synced_users=len(users))


# ---- applying -------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    session: Session
    principal: Principal
    org: Organization
    profile: DirectoryProfile

    def user(self, external_id: str) -> User:
        u = self.session.scalar(select(User).where(User.directory_profile_id == self.profile.id,
                                                   User.external_id == external_id))
        if u is None:
            raise Skip("the user is not in the archive (it was not added)")
        return u

    def group(self, external_id: str) -> Group:
        g = self.session.scalar(select(Group).where(Group.directory_profile_id == self.profile.id,
                                                    Group.external_id == external_id))
        if g is None:
            raise Skip("the group is not in the archive (it was not added)")
        return g

    def domain(self, login: str) -> Domain:
        _, dom = identity.split_login(login)
        d = self.session.scalar(select(Domain).where(Domain.name == dom, Domain.directory_profile_id == self.profile.id))
        if d is None:
            raise Conflict(f"domain {dom!r} is not synced by directory profile {self.profile.name!r}")
        return d

    def audit(self, action: str, target: str, details: dict[str, Any] | None = None) -> None:
        audit.record(self.session, self.principal, action, org_id=self.org.id, target=target,
                     details={"directory": self.profile.name, **(details or {})})


def _sync_addresses(ctx: _Ctx, mb: Mailbox, primary: str, aliases: list[str]) -> list[str]:
    """Make the mailbox's addresses the directory's; returns the aliases it could not take (held elsewhere).

    Addresses the directory no longer lists: a former primary address, one added by hand before the
    directory took over, or one a journal/import source still fills the mailbox by, is kept as "retained";
    any other alias that came from the directory is removed. Sources naming the old primary follow the new.
    """
    s = ctx.session
    desired = [primary, *aliases]
    for row in list(mb.addresses):
        if row.address in desired:
            continue
        if row.is_primary or row.origin != "directory" or profiles_filling(s, ctx.org, row.address):
            row.is_primary, row.origin = False, "retained"
        else:
            mb.addresses.remove(row)
    s.flush()
    not_taken = []
    for addr in desired:
        row = next((a for a in mb.addresses if a.address == addr), None)
        if row is None:
            other = s.scalar(select(MailboxAddress).where(MailboxAddress.org_id == ctx.org.id, MailboxAddress.address == addr))
            if other is not None and other.origin == "retained" and not other.is_primary:
                other.mailbox = mb  # a kept old address gives way to the person who holds it now
                row = other
            elif other is not None:
                owner = other.mailbox.primary_address
                if addr == primary:
                    raise Conflict(f"address {addr} already belongs to archive mailbox {owner}")
                not_taken.append(f"{addr} (held by archive mailbox {owner})")
                continue
            else:
                row = MailboxAddress(org_id=ctx.org.id, address=addr, is_primary=False)
                mb.addresses.append(row)
        row.origin = "directory"
    for row in mb.addresses:
        row.is_primary = row.address == primary
    if mb.primary_address and mb.primary_address != primary:
        moved = repoint_profiles(s, ctx.org, mb.primary_address, primary)
        if moved:  # the sources that fill the mailbox follow it to its new address
            ctx.audit("source.repoint", primary, {"was": mb.primary_address, "profiles": moved})
    mb.primary_address = primary
    s.flush()
    return not_taken


def _ensure_mailbox(ctx: _Ctx, ch: Change, kind: str, owner: User | None) -> Mailbox:
    """The mailbox this directory entry owns: found by its id, adopted by address, or created (licence-checked)."""
    s, ext, primary = ctx.session, ch.details["external_id"], ch.details["primary"]
    mb = _owned_mailbox(s, ctx.profile.id, ext)
    if mb is None:
        kept = s.scalar(select(MailboxAddress).where(MailboxAddress.org_id == ctx.org.id, MailboxAddress.address == primary))
        if kept is not None and kept.origin == "retained" and not kept.is_primary:
            kept.mailbox.addresses.remove(kept)  # a kept old address gives way to the person who holds it now
            s.flush()
        found = find_mailbox(s, ctx.org, primary)
        if found is not None:
            owner_ok = found.owner_user_id is None or (owner is not None and found.owner_user_id == owner.id)
            if found.external_id not in (None, ext):
                # A new person does not inherit the archive of a former one who had the same address.
                raise Conflict(f"address {primary} is the primary address of the archive mailbox of a former "
                               f"directory user: a new person does not inherit it; an admin changes that mailbox's "
                               f"address (or grants access to it), then the next sync adds this user")
            if found.kind != kind or not owner_ok or found.directory_profile_id not in (None, ctx.profile.id):
                raise Conflict(f"address {primary} already belongs to archive mailbox {found.primary_address} "
                               f"({found.kind}{', another owner' if not owner_ok else ''})")
            mb = found
            ctx.audit("mailbox.adopt", found.primary_address, {"external_id": ext})
        else:
            mb = create_mailbox(s, ctx.principal, ctx.org, primary, kind=kind,
                                owner=owner.login if owner else None, display_name=ch.details.get("display_name"))
    mb.directory_profile_id, mb.external_id = ctx.profile.id, ext
    if owner is not None:
        mb.owner_user_id = owner.id
        has = s.scalar(select(MailboxPermission.id).where(MailboxPermission.mailbox_id == mb.id,
                                                          MailboxPermission.user_id == owner.id))
        if has is None:
            s.add(MailboxPermission(org_id=ctx.org.id, mailbox_id=mb.id, user_id=owner.id, access="read"))
    if ch.details.get("display_name"):
        mb.display_name = ch.details["display_name"]
    not_taken = _sync_addresses(ctx, mb, primary, ch.details["aliases"])
    if not_taken:
        ch.details["aliases_not_taken"] = not_taken
    return mb


def _user_create(ctx: _Ctx, ch: Change) -> None:
    s, login, ext = ctx.session, ch.target, ch.details["external_id"]
    dom = ctx.domain(login)
    user = s.scalar(select(User).where(User.login == login))
    if user is not None:
        if user.org_id != ctx.org.id or user.directory_profile_id not in (None, ctx.profile.id):
            raise Conflict(f"user {login} exists and is managed elsewhere")
        ctx.audit("user.adopt", login, {"external_id": ext})  # a local user the directory now manages
    else:
        try:
            licensing.check_can_add_user(s, ctx.org)
        except LimitExceeded:
            ch.details["limit"] = "users"
            raise
        user = User(id=new_id(), org_id=ctx.org.id, domain_id=dom.id, username=login.split("@")[0], login=login,
                    display_name=ch.details.get("display_name"), password_hash=None, must_change_password=False,
                    active=True, created_at=datetime.now(UTC))
        s.add(user)
        s.flush()
        ctx.audit("user.create", login, {"external_id": ext})
    user.directory_profile_id, user.external_id = ctx.profile.id, ext
    user.directory_dn = ch.details.get("dn")
    user.display_name = ch.details.get("display_name") or user.display_name
    s.flush()
    _restore_access(ctx, user)
    try:
        _ensure_mailbox(ctx, ch, "user", user)
    except LimitExceeded:
        ch.details["limit"] = "mailboxes"
        raise


def _shared_create(ctx: _Ctx, ch: Change) -> None:
    try:
        _ensure_mailbox(ctx, ch, "shared", None)
    except LimitExceeded:
        ch.details["limit"] = "mailboxes"
        raise


def _user_rename(ctx: _Ctx, ch: Change) -> None:
    user, to = ctx.user(ch.details["external_id"]), ch.details["to"]
    dom = ctx.domain(to)
    if ctx.session.scalar(select(User.id).where(User.login == to, User.id != user.id)) is not None:
        raise Conflict(f"cannot rename {user.login} to {to}: another user has that login")
    was = user.login
    user.login, user.username, user.domain_id = to, to.split("@")[0], dom.id
    ctx.session.flush()
    ctx.audit("user.rename", to, {"was": was, "external_id": user.external_id})


def _user_update(ctx: _Ctx, ch: Change) -> None:
    user = ctx.user(ch.details["external_id"])
    user.display_name, user.directory_dn = ch.details.get("display_name"), ch.details.get("dn")
    mb = _owned_mailbox(ctx.session, ctx.profile.id, ch.details["external_id"])
    if mb is not None and user.display_name:  # the mailbox is listed under its owner's name
        mb.display_name = user.display_name
    ctx.audit("user.update", user.login, {"display_name": user.display_name})


def _mailbox_addresses(ctx: _Ctx, ch: Change) -> None:
    owner = ctx.user(ch.details["external_id"]) if ch.details.get("kind") == "user" else None
    mb = _ensure_mailbox(ctx, ch, ch.details.get("kind", "user"), owner)
    ctx.audit("mailbox.addresses", mb.primary_address, {k: ch.details.get(k) for k in ("was", "added", "removed")})


def _user_active(active: bool) -> Callable[[_Ctx, Change], None]:
    def run(ctx: _Ctx, ch: Change) -> None:
        user = ctx.user(ch.details["external_id"])
        identity.set_user_active(ctx.session, ctx.principal, ctx.org, user.login, active, by_directory=True)
    return run


def _keep_access(ctx: _Ctx, user: User) -> None:
    """Remember what the archive (not the directory) gave a user who is removed, for their return."""
    s = ctx.session
    roles = sorted(s.scalars(select(RoleAssignment.role).where(RoleAssignment.user_id == user.id)))
    group_ids = sorted(s.scalars(select(Group.id).join(GroupMember, GroupMember.group_id == Group.id)
                                 .where(GroupMember.user_id == user.id, Group.directory_profile_id.is_(None))))
    mailbox_ids = sorted(s.scalars(select(MailboxPermission.mailbox_id).join(Mailbox, Mailbox.id == MailboxPermission.mailbox_id)
                                   .where(MailboxPermission.user_id == user.id,
                                          or_(Mailbox.owner_user_id.is_(None), Mailbox.owner_user_id != user.id))))
    row = s.scalar(select(DepartedAccess).where(DepartedAccess.directory_profile_id == ctx.profile.id,
                                                DepartedAccess.external_id == user.external_id))
    if not (roles or group_ids or mailbox_ids):
        if row is not None:
            s.delete(row)
        return
    if row is None:
        row = DepartedAccess(org_id=ctx.org.id, directory_profile_id=ctx.profile.id, external_id=user.external_id)
        s.add(row)
    row.roles, row.group_ids, row.mailbox_ids = json.dumps(roles), json.dumps(group_ids), json.dumps(mailbox_ids)
    row.removed_at = datetime.now(UTC)
    s.flush()


def _restore_access(ctx: _Ctx, user: User) -> None:
    """A removed user who comes back (same directory object) gets back what the archive had given them."""
    s = ctx.session
    row = s.scalar(select(DepartedAccess).where(DepartedAccess.directory_profile_id == ctx.profile.id,
                                                DepartedAccess.external_id == user.external_id))
    if row is None:
        return
    roles, restored_groups, restored_mailboxes = json.loads(row.roles), [], []
    for role in roles:
        s.add(RoleAssignment(org_id=ctx.org.id, role=role, user_id=user.id))
    for gid in json.loads(row.group_ids):
        g = s.get(Group, gid)
        if g is not None and g.org_id == ctx.org.id and s.get(GroupMember, (gid, user.id)) is None:
            s.add(GroupMember(group_id=gid, user_id=user.id))
            restored_groups.append(g.name)
    for mid in json.loads(row.mailbox_ids):
        mb = s.get(Mailbox, mid)
        if mb is not None and mb.org_id == ctx.org.id:
            s.add(MailboxPermission(org_id=ctx.org.id, mailbox_id=mid, user_id=user.id, access="read"))
            restored_mailboxes.append(mb.primary_address)
    s.delete(row)
    s.flush()
    ctx.audit("user.access_restored", user.login, {"external_id": user.external_id, "roles": roles,
                                                   "groups": restored_groups, "mailboxes": restored_mailboxes})


def _user_remove(ctx: _Ctx, ch: Change) -> None:
    """The user goes; the mailbox stays, no longer managed by the directory (admins may change its addresses),
    and keeps the directory's id so the same person, if they come back, gets it again (and their roles)."""
    user = ctx.user(ch.details["external_id"])
    _keep_access(ctx, user)
    identity.delete_user(ctx.session, ctx.principal, ctx.org, user.login, by_directory=True)
    mb = _owned_mailbox(ctx.session, ctx.profile.id, ch.details["external_id"])
    if mb is not None:
        mb.directory_profile_id = None
        for a in mb.addresses:
            a.origin = None


def _group_create(ctx: _Ctx, ch: Change) -> None:
    g = identity.create_group(ctx.session, ctx.principal, ctx.org, ch.target)
    g.directory_profile_id, g.external_id = ctx.profile.id, ch.details["external_id"]


def _group_rename(ctx: _Ctx, ch: Change) -> None:
    g, to = ctx.group(ch.details["external_id"]), ch.details["to"]
    if ctx.session.scalar(select(Group.id).where(Group.org_id == ctx.org.id, Group.name == to, Group.id != g.id)):
        raise Conflict(f"cannot rename group {g.name!r} to {to!r}: the archive has a group of that name")
    was, g.name = g.name, to
    ctx.session.flush()
    ctx.audit("group.rename", to, {"was": was})


def _group_remove(ctx: _Ctx, ch: Change) -> None:
    identity.delete_group(ctx.session, ctx.principal, ctx.org, ctx.group(ch.details["external_id"]).name,
                          by_directory=True)


def _member(add: bool) -> Callable[[_Ctx, Change], None]:
    def run(ctx: _Ctx, ch: Change) -> None:
        g, u = ctx.group(ch.details["group_id"]), ctx.user(ch.details["user_id"])
        f = identity.add_member if add else identity.remove_member
        f(ctx.session, ctx.principal, ctx.org, g.name, u.login, by_directory=True)
    return run


def _role(assign: bool) -> Callable[[_Ctx, Change], None]:
    def run(ctx: _Ctx, ch: Change) -> None:
        g = ctx.group(ch.details["group_id"])
        f = identity.assign_role if assign else identity.revoke_role
        f(ctx.session, ctx.principal, ctx.org, ch.details["role"], group=g.name, by_directory=True)
    return run


APPLY: dict[str, Callable[[_Ctx, Change], None]] = {
    "group.create": _group_create, "group.rename": _group_rename, "user.create": _user_create,
    "shared.create": _shared_create, "user.rename": _user_rename, "user.update": _user_update,
    "user.enable": _user_active(True), "mailbox.addresses": _mailbox_addresses, "member.add": _member(True),
    "role.assign": _role(True), "member.remove": _member(False), "role.revoke": _role(False),
    "user.disable": _user_active(False), "user.remove": _user_remove, "group.remove": _group_remove,
}


def apply_plan(session: Session, principal: Principal, plan: SyncPlan, *, dry_run: bool = False) -> SyncReport:
    """Apply each change in its own savepoint; a refused change is rolled back alone and reported."""
    org = session.get(Organization, plan.org_id)
    profile = session.get(DirectoryProfile, plan.profile_id)
    if org is None or profile is None:
        raise ControlError("the organization or the directory profile was removed during the sync")
    ctx = _Ctx(session, principal, org, profile)
    for ch in plan.changes:
        try:
            with session.begin_nested():
                APPLY[ch.action](ctx, ch)
            ch.status = "done"
            if ch.details.get("aliases_not_taken"):
                plan.problems.append(f"{ch.target}: aliases not added: {', '.join(ch.details['aliases_not_taken'])}")
        except Skip as e:
            ch.status, ch.reason = "skipped", str(e)
        except ControlError as e:
            ch.status, ch.reason = "refused", str(e)
        except IntegrityError as e:
            ch.status, ch.reason = "refused", f"conflicts with what the archive holds ({e.orig})"
    return SyncReport(plan.org, plan.profile, dry_run, plan.changes, plan.problems, plan.users_seen, plan.groups_seen)


def sync_snapshot(session: Session, principal: Principal, profile: DirectoryProfile, snapshot: DirectorySnapshot,
                  *, dry_run: bool = False, allow_mass_removal: bool = False) -> SyncReport:
    """Plan and apply in the caller's transaction; the caller commits (or rolls back for a dry run).

    A plan the accidental-delete guard stops is not applied at all: the report carries the error, the
    numbers and the planned changes, so the admin sees who would have gone.
    """
    plan = plan_sync(session, profile, snapshot)
    held = None if allow_mass_removal else mass_removal(plan, profile_config(profile))
    if held is not None:
        return SyncReport(plan.org, plan.profile, dry_run, plan.changes, plan.problems, plan.users_seen,
                          plan.groups_seen, error=held.message(), mass_removal=held)
    return apply_plan(session, principal, plan, dry_run=dry_run)
