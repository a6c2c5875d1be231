"""The command line: generate an organization's mail and write it as an .eml tree, with a summary."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.generate.messages import generate_org_mail
from bench.generate.model import GeneratedCopy
from bench.generate.writers import write_tree


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.generate --users 50 --messages 1000 --seed 1 --out DIR``."""
    ap = argparse.ArgumentParser(prog="python -m bench.generate",
                                 description="Deterministic generator of realistic organization mail for benchmarks.")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--domain", default="example.org")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    stats = {"Sent": 0, "Inbox": 0}
    mailboxes: set[str] = set()

    def counted() -> Iterator[GeneratedCopy]:
        for c in generate_org_mail(a.users, a.messages, a.seed, a.domain):
            stats[c.folder] += 1
            mailboxes.add(c.mailbox)
            yield c

    copies, total = write_tree(counted(), a.out)
    print(f"messages: {a.messages}")
    print(f"copies: {copies} (Sent {stats['Sent']}, Inbox {stats['Inbox']})")
    print(f"mailboxes: {len(mailboxes)}")
    print(f"bytes: {total} ({total / 1e6:.1f} MB, {total / max(1, copies) / 1e3:.1f} kB per copy)")
    print(f"out: {a.out}")
    return 0
