"""The floor for ingest speed: how fast the standard library alone parses the same bytes.

Why: every figure mailark's ingest reaches (parse, split, dedup, compress, encrypt, catalogue)
should be read against what plain ``email.message_from_bytes`` does with the same input on the
same machine. This module measures exactly that and nothing else: only the parse call is timed,
so a lazy input (e.g. ``generate_org_mail``) does not count its own generation time.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BaselineResult", "DEFAULT_CORPUS", "load_corpus", "parse_baseline", "main"]

DEFAULT_CORPUS = Path("/work/shared/corpus")


@dataclass(frozen=True)
class BaselineResult:
    """Parse throughput; MB means 10**6 bytes."""

    messages: int
    bytes: int
    seconds: float
    messages_per_s: float
    mb_per_s: float
    errors: int = 0  # inputs on which the parser raised (counted and timed, never fatal)


def parse_baseline(raws: Iterable[bytes]) -> BaselineResult:
    """Parse each input with ``email.message_from_bytes(raw, policy=compat32)``, timing only that call."""
    parse = email.message_from_bytes
    policy = email.policy.compat32
    clock = time.perf_counter
    messages = total = errors = 0
    seconds = 0.0
    for raw in raws:
        start = clock()
        try:
            parse(raw, policy=policy)
        except Exception:  # a benchmark of real-world corpora must not stop at one bad file
            errors += 1
        seconds += clock() - start
        messages += 1
        total += len(raw)
    rate = (lambda x: x / seconds) if seconds > 0 else (lambda x: 0.0)
    return BaselineResult(messages=messages, bytes=total, seconds=seconds,
                          messages_per_s=rate(messages), mb_per_s=rate(total / 1e6), errors=errors)


def load_corpus(root: Path = DEFAULT_CORPUS) -> list[bytes]:
    """The raw bytes of every regular file under ``root``, in sorted path order (symlinks skipped)."""
    root = Path(root)
    paths = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    return [p.read_bytes() for p in paths]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.baseline [--corpus DIR] [--users N --messages M --seed S]``."""
    ap = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None, help=f"parse every file under DIR (default {DEFAULT_CORPUS})")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--messages", type=int, default=0, help="parse this many generated messages (all copies)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    runs: list[tuple[str, BaselineResult]] = []
    if a.messages:
        from bench.generate import generate_org_mail

        raws = [c.raw for c in generate_org_mail(a.users, a.messages, a.seed)]
        runs.append((f"generated {a.messages} messages / {a.users} users (seed {a.seed})", parse_baseline(raws)))
    if a.corpus is not None or not a.messages:
        corpus = a.corpus or DEFAULT_CORPUS
        runs.append((f"corpus {corpus}", parse_baseline(load_corpus(corpus))))
    for label, r in runs:
        print(f"{label}: {r.messages} inputs, {r.bytes / 1e6:.1f} MB in {r.seconds:.2f} s: "
              f"{r.messages_per_s:.0f} messages/s, {r.mb_per_s:.1f} MB/s, {r.errors} errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
