"""Import of mail files (EML, folders, mbox, PST/OST, .msg) into one archive mailbox: the plain code.

The `import-files` flow (flows/import_files.py) runs this with one Prefect task per batch; the
CLI runs it directly when no Prefect server is up. This module does not import Prefect, so a
CLI call pays no Prefect start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ulid import ULID

from mailark.catalog.ingest import BatchWriter, Counts, Incoming
from mailark.control.mailboxes import ensure_archive_mailbox
from mailark.control.orgs import ControlError
from mailark.control.principals import Principal
from mailark.sources.files import SourceMessage, SourceProblem, iter_source

if TYPE_CHECKING:  # the handle is passed in by the caller; sources never open one themselves
    from mailark.sources.handle import SourceRuntime


class ImportRefused(ControlError):
    pass


@dataclass
class ImportResult:
    org: str
    mailbox: str
    mailbox_created: bool
    run_id: str
    counts: Counts
    seconds: float
    bytes: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "org": self.org,
            "mailbox": self.mailbox,
            "mailbox_created": self.mailbox_created,
            "run_id": self.run_id,
            **self.counts.as_dict(),
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
        }


class Batch:
    """A list of messages handed to a task; deliberately not a dataclass, so Prefect does not walk it."""

    __slots__ = ("items", "number")

    def __init__(self, items: list[Incoming], number: int) -> None:
        self.items = items
        self.number = number


def batches(items: Iterable[Incoming], max_messages: int, max_bytes: int) -> Iterator[list[Incoming]]:
    batch: list[Incoming] = []
    size = 0
    for it in items:
        batch.append(it)
        size += len(it.raw)
        del it  # only the batch holds it: a consumed batch frees a huge message while it is written
        if len(batch) >= max_messages or size >= max_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def source_bytes(sources: list[Path]) -> int:
    """Total size of the inputs, for the progress bar."""
    total = 0
    for src in sources:
        if src.is_dir():
            total += sum(p.stat().st_size for p in src.rglob("*") if p.is_file() and not p.is_symlink())
        elif src.exists():
            total += src.stat().st_size
    return total


def _first_items(sources: list[Path], folder: str | None) -> Iterator[SourceMessage | SourceProblem] | None:
    """Every item of the sources, or None when they hold none: a path that holds no mail file must
    not end in a "successful" import of nothing."""
    items = itertools.chain.from_iterable(iter_source(src, folder) for src in sources)
    first = next(items, None)
    return None if first is None else _first_then([first], items)


def _first_then(box: list[SourceMessage | SourceProblem], rest: Iterator[SourceMessage | SourceProblem]
                ) -> Iterator[SourceMessage | SourceProblem]:
    """`itertools.chain([first], rest)` without keeping `first` (and its bytes) for the whole import."""
    yield box.pop()
    yield from rest


def run_import(
    rt: SourceRuntime,
    org_name: str,
    mailbox: str,
    sources: list[Path],
    folder: str | None = None,
    *,
    run_id: str | None = None,
    write: Callable[[BatchWriter, Batch], Counts] | None = None,
    on_batch: Callable[[Counts, int], None] | None = None,
) -> ImportResult:
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        raise ImportRefused(f"nothing imported: no such file or directory: {', '.join(missing)}")
    started = time.perf_counter()
    org = rt.org(org_name)
    found = _first_items(sources, folder)
    if found is None:
        raise ImportRefused(
            f"nothing imported: no mail files found in {', '.join(str(s) for s in sources)} (read are EML, mbox, "
            "PST/OST and .msg files and Maildir directories; hidden files and directories are skipped): "
            "check the path"
        )
    with rt.session(write=True) as session:
        # The licence decides whether a new address may get an archive mailbox.
        mb, created = ensure_archive_mailbox(session, Principal.deployment_operator(), org, mailbox)
    archive = rt.archive_for(org)
    run_id = run_id or str(ULID()).lower()
    writer = BatchWriter(archive, run_id, source="file-import")
    total = Counts()
    nbytes = 0

    def incoming() -> Iterator[Incoming]:
        for m in found:
            problem = m.reason if isinstance(m, SourceProblem) else None
            box = [Incoming(m.raw, mb.id, mb.primary_address, m.folder, m.source, m.position, problem)]
            del m  # a suspended generator keeps its locals: hand the bytes on, keep none of them
            yield box.pop()

    for n, items in enumerate(batches(incoming(), rt.settings.batch_messages, rt.settings.batch_bytes), 1):
        batch_bytes = sum(len(i.raw) for i in items)
        batch = Batch(items, n)
        counts = write(writer, batch) if write else writer.write(batch.items, consume=True)
        total.add(counts)
        nbytes += batch_bytes
        if on_batch:
            on_batch(total, batch_bytes)
    return ImportResult(org_name, mb.primary_address, created, run_id, total, time.perf_counter() - started, nbytes)
