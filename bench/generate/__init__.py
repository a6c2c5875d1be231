"""Deterministic generator of realistic organization mail for benchmarks.

Why it exists: the archive's dedup and compression only pay off on mail shaped like a real
organization's, where one message lives in the sender's Sent folder and in every internal
recipient's Inbox (each Inbox copy with its own transport headers), where attachments are
forwarded and re-sent (and re-wrapped by other mail clients), and where bodies are natural text
while attachments are mostly incompressible. This module produces exactly that, byte for byte the
same for the same arguments, and streams it: memory stays flat for a million messages.

How determinism and flat memory are kept:

* Every decision comes from one ``random.Random(seed)`` consumed in message order, so message
  *k* never depends on how many messages were asked for (a longer run starts with the shorter one).
* Attachment contents are not kept: an attachment is a small spec (index, kind, name, size) and
  its bytes are rebuilt on demand from ``random.Random(f"{seed}:att:{index}")`` for structure and a
  ChaCha20 key stream keyed by (seed, index) for the bulk. The key stream is only a fast
  deterministic source of incompressible bytes (about three times faster than
  ``Random.randbytes``); nothing is encrypted.
* Only bounded pools are kept: the last few hundred attachment-carrying messages (specs and a short
  text excerpt, for forwards and re-sends) and the last few dozen message texts (for replies).

Line endings are CRLF throughout, as IMAP delivers them, except where deliberately varied: a
re-sent attachment may be base64-wrapped at 72 or 64 characters instead of 76, or with LF line
ends inside its part, as another mail client would have written it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from bench.generate.model import GeneratedCopy
from bench.generate.organization import _OrgMail

__all__ = ["GeneratedCopy", "generate_org_mail", "write_tree", "main"]


def generate_org_mail(
    users: int, messages: int, seed: int = 1, domain: str = "example.org", attachment_share: float = 0.30
) -> Iterator[GeneratedCopy]:
    """Stream every copy of ``messages`` messages exchanged in an organization of ``users`` people.

    Per message: the sender's ``Sent`` copy first (with a Bcc header when there are Bcc
    recipients, no transport headers), then one ``Inbox`` copy per internal To/Cc/Bcc recipient
    (its own Received/Return-Path/Delivered-To/authentication headers prepended, no Bcc). The
    same arguments give the same bytes; message *k* does not depend on ``messages``.
    ``attachment_share`` (default 0.30, realistic) lowers the share of messages with attachments
    for scale runs that measure the catalogue rather than bulk bytes.
    """
    if users < 1:
        raise ValueError("users must be at least 1")
    if messages < 0:
        raise ValueError("messages must not be negative")
    if not domain or not domain.isascii() or "@" in domain:
        raise ValueError(f"bad domain: {domain!r}")
    if not 0 <= attachment_share <= 0.9:
        raise ValueError("attachment_share must be between 0 and 0.9")
    return _stream(_OrgMail(users, seed, domain, attachment_share), messages)


def _stream(org: _OrgMail, messages: int) -> Iterator[GeneratedCopy]:
    for no in range(messages):
        yield from org.message(no)


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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.generate --users 50 --messages 1000 --seed 1 --out DIR``."""
    ap = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.splitlines()[0])
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


if __name__ == "__main__":
    sys.exit(main())
