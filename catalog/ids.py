"""Row ids: ULIDs as lower-case text, made a batch at a time.

A batch names each archived copy with its own ULID. `str(ULID()).lower()` costs 7.5 µs (python-ulid
encodes in Python), 22 ms for the 2,936 ids of a 1,468-message import; here one `os.urandom` and
one base32 pass serve the whole batch (BENCHMARKS.md, "Session 13").
"""

from __future__ import annotations

import base64
import os
import time

# RFC 4648 base32 letters to Crockford's (ULID) letters, lower case.
_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz")
# Four zero bytes before the 16 of a ULID make 20 bytes, 32 base32 letters: the first six are zeros
# and the last 26 are the ULID's own text.
_PAD = b"\0\0\0\0"


def new_ids(n: int) -> list[str]:
    """`n` ULIDs (this millisecond, 80 random bits each) as lower-case text, in ascending order:
    ids given in the order of a batch's rows sort as the rows came (exports list copies by id)."""
    stamp = _PAD + (time.time_ns() // 1_000_000).to_bytes(6, "big")
    random = os.urandom(10 * n)
    text = base64.b32encode(b"".join(stamp + random[i:i + 10] for i in range(0, 10 * n, 10))).translate(_CROCKFORD)
    return sorted(text[i + 6:i + 32].decode() for i in range(0, 32 * n, 32))
