"""Writing generated copies to disk, as a tree the ingest benchmarks and tools read back.

Only the .eml tree exists: one file per copy, under the mailbox and folder it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bench.generate.model import GeneratedCopy


def write_tree(copies: Iterable[GeneratedCopy], out: Path) -> tuple[int, int]:
    """Write ``out/<mailbox>/<folder>/<message_no:07d>.eml``; return (copies, bytes) written."""
    out = Path(out)
    made: set[Path] = set()
    count = total = 0
    for c in copies:
        folder = out / c.mailbox / c.folder
        if folder not in made:
            folder.mkdir(parents=True, exist_ok=True)
            made.add(folder)
        (folder / f"{c.message_no:07d}.eml").write_bytes(c.raw)
        count += 1
        total += len(c.raw)
    return count, total
