"""Deterministic generator of realistic organization mail for benchmarks.

Why it exists: the archive's dedup and compression only pay off on mail shaped like a real
organization's, where one message lives in the sender's Sent folder and in every internal
recipient's Inbox (each Inbox copy with its own transport headers), where attachments are
forwarded and re-sent (and re-wrapped by other mail clients), and where bodies are natural text
while attachments are mostly incompressible. This package produces exactly that, byte for byte the
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

Where each part is made (one concern per module):

* ``messages``: one run, message by message: the decisions and every copy (``generate_org_mail``).
* ``organization``: the company, its people and outside correspondents, who writes to whom.
* ``text``: message text in four languages, rendered to plain text and HTML.
* ``threads``: memory of earlier messages; replies, forwards, re-sends.
* ``attachments``: attachment specs and their rebuilt bytes (PDF, OOXML, images, CSV, text).
* ``mime``: MIME parts and the top-level header block as each sending client writes them.
* ``delivery``: Inbox copies and the transport headers each recipient's servers prepend.
* ``tokens``: Message-IDs, boundaries, queue ids, dates.
* ``encoding``: base64, quoted-printable, encoded words, folding.
* ``vocabulary``: fixed word lists, names, client quirks.
* ``model``: ``GeneratedCopy``, what the generator hands out.
* ``writers``: the .eml tree on disk (``write_tree``); ``cli``: ``python -m bench.generate``.
"""

from __future__ import annotations

from bench.generate.cli import main
from bench.generate.messages import generate_org_mail
from bench.generate.model import GeneratedCopy
from bench.generate.writers import write_tree

__all__ = ["GeneratedCopy", "generate_org_mail", "write_tree", "main"]
