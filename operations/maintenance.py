"""The nightly maintenance, as plain code: the `maintain-archive` flow runs these steps as tasks, and
`mailark maintain` / `mailark scrub` run them from the command line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from mailark.catalog.lake import catalog_lane
from mailark.catalog.maintenance import (
    CompactionReport,
    OrphanCleanup,
    ScrubReport,
    compact,
    delete_orphan_lake_files,
    delete_orphans,
    scrub,
    unknown_org_prefixes,
)
from mailark.control.orgs import list_orgs
from mailark.operations.exports import expire_exports
from mailark.runtime import Runtime

log = logging.getLogger("mailark.maintenance")

Step = Callable[[str], None]  # told the step that is about to run (a progress bar, a log line)


@dataclass
class MaintenanceReport:
    compaction: CompactionReport | None = None
    expired_exports: list[str] = field(default_factory=list)
    scrubs: list[ScrubReport] = field(default_factory=list)
    orphans: dict[str, OrphanCleanup] = field(default_factory=dict)  # org name -> its orphaned objects
    lake_orphans: OrphanCleanup = field(default_factory=OrphanCleanup)  # catalogue files nobody names
    unknown_prefixes: list[str] = field(default_factory=list)

    @property
    def damaged(self) -> int:
        """Failures of the scrub (each a damaged object or catalogue file)."""
        return sum(len(s.failures) for s in self.scrubs)

    @property
    def healthy(self) -> bool:
        return not self.damaged and not self.unknown_prefixes

    def as_dict(self) -> dict[str, object]:
        return {"compaction": self.compaction.as_dict() if self.compaction else None,
                "expired_exports": self.expired_exports, "scrubs": [s.as_dict() for s in self.scrubs],
                "orphans": {k: v.as_dict() for k, v in self.orphans.items()},
                "lake_orphans": self.lake_orphans.as_dict(),
                "orphans_deleted": sum(len(v.deleted) for v in self.orphans.values()) + len(self.lake_orphans.deleted),
                "unknown_prefixes": self.unknown_prefixes, "damaged": self.damaged, "healthy": self.healthy}


def org_names(rt: Runtime) -> list[tuple[str, str]]:
    with rt.control() as s:
        return [(o.id, o.name) for o in list_orgs(s)]


def compact_catalogue(rt: Runtime, now: datetime | None = None) -> CompactionReport:
    now = now or datetime.now(UTC)
    report = compact(rt.settings, rt.lake, rt.store, [i for i, _ in org_names(rt)], now=now,
                     retention=timedelta(days=rt.settings.lake_snapshot_retention_days))
    log.info("catalogue compacted: %d live files before, %d after; %d snapshots expired, %d old files deleted (%.1f s)",
             report.files_before, report.files_after, report.snapshots_expired, report.files_deleted, report.seconds)
    return report


def scrub_org(rt: Runtime, org_name: str, day: int | None = None, *, full: bool = False) -> ScrubReport:
    report = scrub(rt.archive_for(rt.org(org_name)), period=rt.settings.scrub_period_days, day=day, full=full)
    log.info("scrub of %s (slice %d of %d): %d catalogue files, %d objects, %d bytes, %d copies rebuilt and verified, "
             "%d failures", org_name, report.slot + 1, report.period, report.catalogue_files, report.objects, report.bytes,
             report.copies_verified, len(report.failures))
    for f in report.failures:
        log.error("scrub of %s: %s %s FAILED: %s (%d messages affected)", org_name, f.kind, f.object_key, f.reason,
                  len(f.affected))
    return report


def grace(rt: Runtime) -> timedelta:
    return timedelta(days=rt.settings.orphan_grace_days)


def orphans_of(rt: Runtime, org_name: str, now: datetime | None = None) -> OrphanCleanup:
    """Delete the organization's orphaned objects older than the grace period; report the rest."""
    result = delete_orphans(rt.archive_for(rt.org(org_name)), now=now or datetime.now(UTC), grace=grace(rt))
    if result.found:
        log.warning("%s: %d objects no catalogue row references; %d older than %g days deleted%s", org_name,
                    len(result.found), len(result.deleted), rt.settings.orphan_grace_days,
                    f" (none deleted: {result.kept_reason})" if result.kept_reason else "")
    return result


def lake_orphans(rt: Runtime, now: datetime | None = None) -> OrphanCleanup:
    """Delete catalogue Parquet files the catalogue does not know, older than the grace period."""
    with catalog_lane(rt.settings, None, rt.lake, rt.store):  # a fresh view of which files the catalogue names
        result = delete_orphan_lake_files(rt.lake, rt.store, now=now or datetime.now(UTC), grace=grace(rt))
    if result.found:
        log.warning("catalogue: %d Parquet files no snapshot names; %d older than %g days deleted",
                    len(result.found), len(result.deleted), rt.settings.orphan_grace_days)
    return result


def run_maintenance(rt: Runtime, *, now: datetime | None = None, day: int | None = None,
                    on_step: Step | None = None, full: bool = False) -> MaintenanceReport:
    now = now or datetime.now(UTC)
    step = on_step or (lambda _: None)
    report = MaintenanceReport()
    step("compacting the catalogue")
    report.compaction = compact_catalogue(rt, now)
    step("expiring exports")
    report.expired_exports = expire_exports(rt, now)
    orgs = org_names(rt)
    for _, name in orgs:
        step(f"scrubbing {name}")
        report.scrubs.append(scrub_org(rt, name, day, full=full))
        step(f"orphans of {name}")
        report.orphans[name] = orphans_of(rt, name, now)
    step("orphaned catalogue files")
    report.lake_orphans = lake_orphans(rt, now)
    report.unknown_prefixes = unknown_org_prefixes(rt.store, {i for i, _ in orgs})
    return report


def steps(rt: Runtime) -> int:
    """How many steps run_maintenance announces (the progress bar's total)."""
    return 3 + 2 * len(org_names(rt))
