"""The nightly maintenance, as plain code: the `maintain-archive` flow runs these steps as tasks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from mailark.catalog.maintenance import CompactionReport, ScrubReport, compact, find_orphans, scrub, unknown_org_prefixes
from mailark.control.orgs import list_orgs
from mailark.operations.exports import expire_exports
from mailark.runtime import Runtime

log = logging.getLogger("mailark.maintenance")


@dataclass
class MaintenanceReport:
    compaction: CompactionReport | None = None
    expired_exports: list[str] = field(default_factory=list)
    scrubs: list[ScrubReport] = field(default_factory=list)
    orphans: dict[str, list[str]] = field(default_factory=dict)  # org name -> object names
    unknown_prefixes: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not any(s.failures for s in self.scrubs) and not any(self.orphans.values()) and not self.unknown_prefixes

    def as_dict(self) -> dict[str, object]:
        return {"compaction": self.compaction.as_dict() if self.compaction else None,
                "expired_exports": self.expired_exports, "scrubs": [s.as_dict() for s in self.scrubs],
                "orphans": self.orphans, "unknown_prefixes": self.unknown_prefixes, "healthy": self.healthy}


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


def scrub_org(rt: Runtime, org_name: str, day: int | None = None) -> ScrubReport:
    report = scrub(rt.archive_for(rt.org(org_name)), period=rt.settings.scrub_period_days, day=day)
    log.info("scrub of %s (slice %d of %d): %d objects, %d bytes, %d copies rebuilt and verified, %d failures",
             org_name, report.slot + 1, report.period, report.objects, report.bytes, report.copies_verified,
             len(report.failures))
    for f in report.failures:
        log.error("scrub of %s: %s object %s FAILED: %s", org_name, f.kind, f.object_key, f.reason)
    return report


def orphans_of(rt: Runtime, org_name: str) -> list[str]:
    found = find_orphans(rt.archive_for(rt.org(org_name)))
    if found:
        log.warning("%s: %d objects no catalogue row references (not deleted), e.g. %s", org_name, len(found), found[0])
    return found


def run_maintenance(rt: Runtime, *, now: datetime | None = None, day: int | None = None) -> MaintenanceReport:
    now = now or datetime.now(UTC)
    report = MaintenanceReport()
    report.compaction = compact_catalogue(rt, now)
    report.expired_exports = expire_exports(rt, now)
    orgs = org_names(rt)
    for _, name in orgs:
        report.scrubs.append(scrub_org(rt, name, day))
        report.orphans[name] = orphans_of(rt, name)
    report.unknown_prefixes = unknown_org_prefixes(rt.store, {i for i, _ in orgs})
    return report
