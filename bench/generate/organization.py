"""The organization: its name, its people and outside correspondents, and who writes to whom.

People carry everything that shapes their mail (mail client, language, time zone, mail server,
signature), so a message's look follows from who sends it and who receives it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.generate.encoding import _ascii_fold, _mailbox
from bench.generate.vocabulary import (
    _EXTERNAL_DOMAINS,
    _FIRST_NAMES,
    _JA_NAMES,
    _LAST_NAMES,
    _LEGAL_SUFFIX,
    _TITLES,
)


@dataclass(frozen=True)
class _Person:
    addr: str
    first: str
    last: str
    display: str
    header_b: str  # formatted for From/To with B-encoding (Outlook) ...
    header_q: str  # ... and with Q-encoding (other clients)
    internal: bool
    client: str  # outlook | thunderbird | apple
    lang: str
    tz: int  # minutes east of UTC
    exchange: bool  # mailbox hosted on Exchange Online (else Postfix/Dovecot)
    server: str
    title: str
    phone: str


@dataclass(frozen=True)
class _Organization:
    """The company (name for signatures, short code for Outlook boundaries), staff and outsiders."""

    domain: str
    company: str
    disclaimer: bool  # whether Outlook users' mail carries the legal disclaimer
    short: str
    users: list[_Person]
    externals: list[_Person]

    @classmethod
    def make(cls, rng: random.Random, users: int, domain: str) -> _Organization:
        base = domain.split(".")[0].replace("-", " ").title()
        company = f"{base} {rng.choice(_LEGAL_SUFFIX)}"
        disclaimer = rng.random() < 0.6
        short = "".join(c for c in base.upper() if c.isalnum())[:4] or "ORG"
        staff = [_internal_person(i, rng, domain) for i in range(users)]
        externals = [_external_person(rng) for _ in range(300)]
        return cls(domain=domain, company=company, disclaimer=disclaimer, short=short, users=staff,
                   externals=externals)

    def pick_recipients(self, rng: random.Random, sender_i: int, count: int, taken: set[str]) -> list[_Person]:
        """``count`` distinct recipients, ~20 % external, internal ones mostly from the sender's team."""
        n = len(self.users)
        out: list[_Person] = []
        for _ in range(count):
            person: _Person | None = None
            if rng.random() >= 0.2 and n > 1:
                for _attempt in range(8):
                    if rng.random() < 0.6:
                        team0 = sender_i - sender_i % 10
                        j = min(n - 1, team0 + rng.randrange(10))
                    else:
                        j = rng.randrange(n)
                    cand = self.users[j]
                    if j != sender_i and cand.addr not in taken:
                        person = cand
                        break
            if person is None:
                for _attempt in range(8):
                    cand = rng.choice(self.externals)
                    if cand.addr not in taken:
                        person = cand
                        break
            if person is not None:
                taken.add(person.addr)
                out.append(person)
        return out


def _internal_person(i: int, rng: random.Random, domain: str) -> _Person:
    """Staff member ``i``: mostly English, some German, French and Japanese; Outlook for most."""
    r = rng.random()
    lang = "en" if r < 0.70 else "de" if r < 0.85 else "fr" if r < 0.95 else "ja"
    if lang == "ja":
        display, _ = rng.choice(_JA_NAMES)
        last, first = display.split(" ")
    else:
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        display = f"{last}, {first}" if rng.random() < 0.2 else f"{first} {last}"
    addr = f"user{i:04d}@{domain}"
    c = rng.random()
    client = "outlook" if c < 0.6 else "thunderbird" if c < 0.85 else "apple"
    tz = {"en": rng.choice((0, 60, 60, -300)), "de": 60, "fr": 60, "ja": 540}[lang]
    exchange = rng.random() < 0.6
    if exchange:
        region = rng.choice(("AM0", "AM6", "DB9", "VI1", "PA4", "FR0"))
        server = (f"{region}PR{rng.randint(1, 9):02d}MB{rng.randint(1000, 9999)}"
                  f".eurprd{rng.randint(1, 9):02d}.prod.outlook.com")
    else:
        server = f"imap{rng.randint(1, 3)}.{domain}"
    return _Person(
        addr=addr, first=first, last=last, display=display,
        header_b=_mailbox(display, addr, "B"), header_q=_mailbox(display, addr, "Q"),
        internal=True, client=client, lang=lang, tz=tz, exchange=exchange, server=server,
        title=rng.choice(_TITLES), phone=f"+49 89 {rng.randint(100000, 999999)}-{rng.randint(10, 99)}",
    )


def _external_person(rng: random.Random) -> _Person:
    """An outside correspondent: gets mail (no archive copy), never sends any here."""
    if rng.random() < 0.05:
        display, local = rng.choice(_JA_NAMES)
        last, first = display.split(" ")
    else:
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        display = f"{first} {last}"
        local = f"{_ascii_fold(first)}.{_ascii_fold(last)}"
    dom = rng.choice(_EXTERNAL_DOMAINS)
    if dom in ("gmail.com", "outlook.com", "yahoo.com", "gmx.de", "web.de"):
        local += str(rng.randint(1, 99))
    addr = f"{local}@{dom}"
    return _Person(
        addr=addr, first=first, last=last, display=display,
        header_b=_mailbox(display, addr, "B"), header_q=_mailbox(display, addr, "Q"),
        internal=False, client="outlook", lang="en", tz=0, exchange=False, server="", title="", phone="",
    )
