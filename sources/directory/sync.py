"""One directory sync run: read the directory, plan and apply the changes, record the outcome.

Used by the `directory-sync` flow (as the system), the CLI (as the deployment operator) and the API
(as the admin who asked); the rules are in control.directory. The directory is read before the
control-plane transaction starts, so a slow directory never holds the database's write lock.

Readers: a function `(config, secret) -> DirectorySnapshot` per profile kind (`DirectoryReader`).
"ldap" is sources.directory.ldap.read_directory; "m365" is sources.graph.directory.read_directory,
imported only when such a profile runs (it is built separately). Tests pass their own reader.
"""

from __future__ import annotations

import logging

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from mailark.control import audit
from mailark.control.db import writer
from mailark.control.directory import SyncReport, sync_snapshot
from mailark.control.directory_profiles import due_profiles, finish_sync, profile_config, profile_row, profile_secret
from mailark.control.models import DirectoryProfile, Organization
from mailark.control.orgs import NotFound
from mailark.control.principals import Principal
from mailark.control.directory_records import DirectorySnapshot
from mailark.sources.errors import SourceError
from mailark.sources.handle import SourceRuntime
from mailark.sources.kinds import failure_category

log = logging.getLogger("mailark.directory")

# The actor of scheduled syncs in the audit log.
SYSTEM = Principal("system", "directory-sync", "directory-sync")


class DirectoryReader(Protocol):
    def __call__(self, config: dict[str, Any], secret: dict[str, Any]) -> DirectorySnapshot: ...


def reader_for(kind: str) -> DirectoryReader:
    if kind == "ldap":
        from mailark.sources.directory.ldap import read_directory

        return read_directory
    if kind == "m365":
        try:
            from mailark.sources.graph.directory import read_directory as read_m365  # type: ignore[import-not-found]
        except ImportError as e:
            raise SourceError(f"this mailark has no Microsoft 365 directory reader ({e}): update mailark",
                              retryable=False) from None
        return read_m365  # type: ignore[no-any-return]
    raise SourceError(f"unknown directory kind {kind!r}", retryable=False)


def _failed(rt: SourceRuntime, profile_id: str, principal: Principal, org: str, name: str, error: str,
            dry_run: bool) -> SyncReport:
    with rt.session(write=True) as s:
        p = s.get(DirectoryProfile, profile_id)
        if p is not None:
            if not dry_run:
                finish_sync(s, p, "failed", error=error)
            audit.record(s, principal, "directory.sync", org_id=p.org_id, target=name, outcome="failed",
                         details={"error": error, "dry_run": dry_run})
    return SyncReport(org, name, dry_run, [], [], 0, 0, error=error)


def run_sync(rt: SourceRuntime, profile_id: str, principal: Principal = SYSTEM, *, dry_run: bool = False,
             reader: DirectoryReader | None = None, now: datetime | None = None,
             allow_mass_removal: bool = False) -> SyncReport:
    """Sync one profile. A directory that cannot be read fails the run (recorded, nothing changed), and so
    does a run the accidental-delete guard stops (unless `allow_mass_removal`: an admin confirmed it)."""
    with rt.session() as s:
        p = s.get(DirectoryProfile, profile_id)
        if p is None:
            raise NotFound(f"no directory profile {profile_id!r} (removed?)")
        org = s.get(Organization, p.org_id)
        org_name, name, kind = org.name if org else "?", p.name, p.kind
        config, secret = profile_config(p), profile_secret(p, rt.master_key)
    try:
        snapshot = (reader or reader_for(kind))(config, secret)
    except SourceError as e:
        return _failed(rt, profile_id, principal, org_name, name, str(e), dry_run)
    except Exception as e:  # noqa: BLE001 - one profile's broken reader must not stop the others' syncs
        return _failed(rt, profile_id, principal, org_name, name,
                       f"reading the directory failed unexpectedly ({type(e).__name__}: {e}); nothing was changed", dry_run)
    del secret
    try:
        return _apply(rt, profile_id, principal, org_name, name, snapshot, dry_run, now, allow_mass_removal)
    except SQLAlchemyError as e:  # the control plane failed under us: nothing of this run was kept
        return _failed(rt, profile_id, principal, org_name, name,
                       f"the control plane refused the sync ({type(e).__name__}: {e}); nothing was changed; "
                       f"the next run tries again", dry_run)


def _apply(rt: SourceRuntime, profile_id: str, principal: Principal, org_name: str, name: str,
           snapshot: DirectorySnapshot, dry_run: bool, now: datetime | None, allow_mass_removal: bool) -> SyncReport:
    with writer(rt.control) as s:
        try:
            p = s.get(DirectoryProfile, profile_id)
            if p is None:
                raise NotFound(f"directory profile {name!r} was removed during the sync")
            report = sync_snapshot(s, principal, p, snapshot, dry_run=dry_run, allow_mass_removal=allow_mass_removal)
            if report.mass_removal is not None:
                s.rollback()  # nothing was applied; the run fails with the numbers
                if not dry_run:
                    finish_sync(s, p, "failed", error=report.message(), now=now)
                audit.record(s, principal, "directory.sync", org_id=p.org_id, target=name,
                             outcome="failed", details={"mass_removal": report.mass_removal.as_dict(),
                                                        "dry_run": dry_run})
                s.commit()
                return report
            if dry_run:
                s.rollback()  # a dry run shows what would happen and keeps none of it
            else:
                summary = {k: v for k, v in report.as_dict().items() if k != "changes"}
                finish_sync(s, p, report.status, error=None if report.status == "ok" else report.message(),
                            report=summary, now=now)
                audit.record(s, principal, "directory.sync", org_id=p.org_id, target=name,
                             outcome=report.status, details={"summary": report.summary(), "problems": report.problems[:50],
                                                             "allow_mass_removal": allow_mass_removal,
                                                             "refused": [f"{c.action} {c.target}: {c.reason}"
                                                                         for c in report.refused][:50]})
                s.commit()
        except BaseException:
            s.rollback()
            raise
    if dry_run:
        with rt.session(write=True) as s:
            p = s.get(DirectoryProfile, profile_id)
            audit.record(s, principal, "directory.dry_run", org_id=p.org_id if p else None, target=name,
                         details={"summary": report.summary()})
    return report


def run_named(rt: SourceRuntime, principal: Principal, org: str, name: str, *, dry_run: bool = False,
              reader: DirectoryReader | None = None, allow_mass_removal: bool = False) -> SyncReport:
    """An Admin (or operator) syncs one profile of their organization now."""
    with rt.session() as s:
        profile_id = profile_row(s, principal, org, name).id
    return run_sync(rt, profile_id, principal, dry_run=dry_run, reader=reader, allow_mass_removal=allow_mass_removal)


def due_profile_ids(rt: SourceRuntime, now: datetime | None = None) -> list[tuple[str, str, str]]:
    """(profile id, organization, profile name) of the enabled profiles whose next sync is due."""
    with rt.session() as s:
        names = {org_id: name for org_id, name in s.execute(select(Organization.id, Organization.name))}
        return [(p.id, names.get(p.org_id, "?"), p.name) for p in due_profiles(s, now)]


def probe_profile(rt: SourceRuntime, principal: Principal, org: str, name: str,
                 reader: DirectoryReader | None = None) -> dict[str, Any]:
    """Connect and read without changing anything: counts and the first few entries, or the error."""
    with rt.session() as s:
        p = profile_row(s, principal, org, name)
        kind, config, secret = p.kind, profile_config(p), profile_secret(p, rt.master_key)
    try:
        snap = (reader or reader_for(kind))(config, secret)
    except SourceError as e:
        log.info("directory test of %s/%s failed: %s", org, name, e)  # the detail stays in the server's log
        return {"ok": False, "error": failure_category(str(e), kind)}
    return {"ok": True, "users": len(snap.users), "groups": len(snap.groups), "problems": snap.problems,
            "sample_users": [u.login for u in snap.users[:5]], "sample_groups": [g.name for g in snap.groups[:5]]}

