"""Random identifiers in the shapes real clients and servers write them: Message-IDs, MIME
boundaries, queue ids, GUIDs, base64 tokens, and the (memoised) Date texts.

They all draw from the run's one ``random.Random``, so they sit in one place that every part of
a message (body, headers, delivery) shares, in the order the message is built.
"""

from __future__ import annotations

import base64
import random

from bench.generate.encoding import _date, _queue_id
from bench.generate.organization import _Person
from bench.generate.vocabulary import _ALNUM


class _Tokens:
    """The run's rng plus what its tokens need: the mail domain and the company's short code."""

    def __init__(self, rng: random.Random, domain: str, short: str) -> None:
        self.rng = rng
        self.domain = domain
        self.short = short
        self._dates: dict[tuple[int, int, bool], str] = {}

    def queue_id(self) -> str:
        return _queue_id(self.rng.randbytes(12))

    def date(self, t: int, tz_minutes: int, pad: bool = False) -> str:
        """``_date`` memoised: the copies of one message share their few timestamps."""
        key = (t, tz_minutes, pad)
        text = self._dates.get(key)
        if text is None:
            if len(self._dates) > 256:
                self._dates.clear()
            text = self._dates[key] = _date(t, tz_minutes, pad)
        return text

    def hex(self, n: int) -> str:
        return self.rng.randbytes(n).hex()

    def b64tok(self, n: int) -> str:
        return base64.b64encode(self.rng.randbytes(n)).decode("ascii")

    def guid(self) -> str:
        h = self.hex(16)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def message_id(self, sender: _Person) -> str:
        if sender.client == "outlook":
            host = sender.server if sender.exchange else f"EX{self.rng.randint(1, 4):02d}.{self.domain}"
            return f"<{host.split('.')[0]}{self.hex(18).upper()}@{host}>"
        if sender.client == "apple":
            return f"<{self.guid().upper()}@{self.domain}>"
        return f"<{self.guid()}@{self.domain}>"

    def boundary(self, client: str, n: int) -> str:
        if client == "outlook":
            return f"_{n:03d}_{self.short}PR04MB{self.hex(20).upper()}_"
        if client == "apple":
            return f"Apple-Mail={self.guid().upper()}"
        return "------------" + "".join([_ALNUM[b % 62] for b in self.rng.randbytes(24)])
