"""The daily backup of the whole deployment into generations, as plain code (flows/backup.py runs it).

`backup.destination` gets one directory per run, named by its UTC time (`20261204T040000Z`); after
a complete (and verified) one, generations older than the newest `backup.keep` complete ones are
deleted. An incomplete generation deletes nothing: the older, complete ones are what is left to
restore from, and the failed one stays for an operator to look at.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mailark.control import audit
from mailark.control.principals import Principal
from mailark.operations.backup import BackupError, BackupSummary, backup
from mailark.runtime import Runtime

GENERATION = re.compile(r"^\d{8}T\d{6}Z$")


@dataclass
class ScheduledBackup:
    generation: str
    summary: BackupSummary
    pruned: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"generation": self.generation, "pruned": self.pruned, "kept": self.kept, **self.summary.as_dict()}


def generations(root: Path) -> list[Path]:
    """The generation directories under `root`, oldest first (anything else there is left alone)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and GENERATION.match(p.name))


def is_complete(generation: Path) -> bool:
    try:
        manifest = json.loads((generation / "backup.json").read_text())
    except (OSError, ValueError):
        return False  # killed before its manifest was written
    return manifest.get("complete") is True and manifest.get("verified", True) is not False


def prune(root: Path, keep: int) -> tuple[list[str], list[str]]:
    """Delete generations older than the newest `keep` complete ones: (deleted, kept complete)."""
    gens = generations(root)
    kept = [g for g in gens if is_complete(g)][-keep:]
    if not kept:
        return [], []
    pruned = [g for g in gens if g.name < kept[0].name]
    for g in pruned:
        shutil.rmtree(g)
    return [g.name for g in pruned], [g.name for g in kept]


def scheduled_backup(rt: Runtime, now: datetime | None = None) -> ScheduledBackup:
    """Back up the deployment into a new generation under `backup.destination`, then prune."""
    cfg = rt.settings.backup
    if cfg.destination is None:
        raise BackupError("no backup destination is set: set MAILARK_BACKUP__DESTINATION (or `destination` in the "
                          "[backup] table of mailark.toml) to a directory for the daily backups")
    if cfg.keep < 1:
        raise BackupError(f"backup.keep is {cfg.keep}: keep at least 1 generation")
    secret = rt.settings.backup_passphrase
    if secret is None or not secret.get_secret_value():
        raise BackupError("the key room of a backup is encrypted: set MAILARK_BACKUP_PASSPHRASE for the scheduled backups")
    now = now or datetime.now(UTC)
    name = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    summary = backup(rt, cfg.destination / name, secret.get_secret_value().encode(), with_master_key=cfg.with_master_key)
    result = ScheduledBackup(name, summary)
    if summary.complete:
        result.pruned, result.kept = prune(cfg.destination, cfg.keep)
        if result.pruned:
            with rt.session(write=True) as s:
                audit.record(s, Principal.deployment_operator(), "backup.prune", target=str(cfg.destination),
                             details={"deleted": result.pruned, "kept": result.kept})
    return result
