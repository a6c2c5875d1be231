"""Conversations: the bounded memory of earlier messages, and the replies, forwards and re-sends
drawn from it.

Replies quote an earlier text (so bodies repeat as in real threads); forwards and re-sends carry
an earlier message's attachments again, sometimes re-wrapped by another client (so the same
attachment reaches the archive in several encodings). Memory stays bounded: only the last few
hundred attachment specs and the last few dozen texts are kept.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from bench.generate.attachments import _Attachment
from bench.generate.organization import _Person
from bench.generate.text import _Text
from bench.generate.vocabulary import _POOL_SIZE, _THREAD_SIZE, _WRAPS


@dataclass(frozen=True)
class _PoolEntry:
    """An earlier attachment-carrying message that may be forwarded or re-sent."""

    subject: str
    sender: _Person
    to_line: str
    date: str
    message_id: str
    attachments: tuple[_Attachment, ...]
    wrap: tuple[int, bytes]
    excerpt: str


@dataclass(frozen=True)
class _ThreadEntry:
    """An earlier message whose text a reply can quote."""

    subject: str
    sender: _Person
    to_line: str
    date: str
    message_id: str
    references: tuple[str, ...]
    text: str
    lang: str


class _History:
    """The last attachment-carrying messages (``pool``) and the last message texts (``threads``)."""

    def __init__(self) -> None:
        self.pool: deque[_PoolEntry] = deque(maxlen=_POOL_SIZE)
        self.threads: deque[_ThreadEntry] = deque(maxlen=_THREAD_SIZE)

    def pick_resend(self, rng: random.Random) -> _PoolEntry | None:
        """A quarter of attachment messages forward or re-send an earlier one, mostly a recent one."""
        if self.pool and rng.random() < 0.25:
            return self.pool[-1 - min(len(self.pool) - 1, int(rng.expovariate(1 / 20)))] \
                if rng.random() < 0.7 else rng.choice(self.pool)
        return None

    def pick_reply(self, rng: random.Random) -> _ThreadEntry | None:
        """About one text message in thirteen answers a recent one."""
        if self.threads and rng.random() < 0.075:
            return self.threads[-1 - min(len(self.threads) - 1, int(rng.expovariate(1 / 8)))]
        return None


def _reply_heading(reply: _ThreadEntry, client: str, lang: str) -> tuple[str, tuple[str, ...], str]:
    """Subject, References and In-Reply-To of a reply (the client's "RE:"/"AW:"/"Re:" once)."""
    re_ = {"outlook": "AW: " if lang == "de" else "RE: "}.get(client, "Re: ")
    subject = reply.subject if reply.subject.lower().startswith(("re:", "aw:")) else re_ + reply.subject
    references = (reply.references + (reply.message_id,))[-10:]
    return subject, references, reply.message_id


def _quote_reply(text: _Text, reply: _ThreadEntry, lang: str) -> None:
    """Quote the earlier text below the new one: "> " lines, or Outlook's original-message block."""
    if text.quote_gt:
        text.quote_head = [f"On {reply.date}, {reply.sender.display} wrote:" if lang != "de"
                           else f"Am {reply.date} schrieb {reply.sender.display}:"]
    else:
        rule = "-----Ursprüngliche Nachricht-----" if lang == "de" else "-----Original Message-----"
        text.quote_head = [rule,
                           f"From: {reply.sender.display} <{reply.sender.addr}>", f"Sent: {reply.date}",
                           f"To: {reply.to_line}", f"Subject: {reply.subject}"]
    text.quoted = reply.text


def _resend_heading(rng: random.Random, reuse: _PoolEntry, client: str,
                    lang: str) -> tuple[bool, str, str | None, tuple[str, ...]]:
    """How an earlier attachment message comes back: half forwarded, some replied to, the rest
    re-sent as is to other people. Returns (forwarded, subject, In-Reply-To, References)."""
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    style = rng.random()
    if style < 0.5:
        fw = {"outlook": "WG: " if lang == "de" else "FW: "}.get(client, "Fwd: ")
        subject = fw + reuse.subject
    elif style < 0.7:
        subject = ("RE: " if client == "outlook" else "Re: ") + reuse.subject
        in_reply_to = reuse.message_id
        references = (reuse.message_id,)
    else:
        subject = reuse.subject  # the same report sent to other people
    return style < 0.5, subject, in_reply_to, references


def _quote_forward(text: _Text, reuse: _PoolEntry, client: str) -> None:
    """The forwarded message's header block and an excerpt of its text, below the new text."""
    text.quote_gt = False
    origin = f"From: {reuse.sender.display} <{reuse.sender.addr}>"
    if client == "outlook":
        text.quote_head = [origin, f"Sent: {reuse.date}", f"To: {reuse.to_line}",
                           f"Subject: {reuse.subject}"]
    else:
        text.quote_head = ["---------- Forwarded message ---------", origin, f"Date: {reuse.date}",
                           f"Subject: {reuse.subject}", f"To: {reuse.to_line}"]
    text.quoted = reuse.excerpt


def _rewrap(rng: random.Random, reuse: _PoolEntry) -> tuple[int, bytes]:
    """Half of re-sent attachments come back base64-wrapped differently (another client's layout)."""
    if rng.random() < 0.5:
        return rng.choice([w for w in _WRAPS if w != reuse.wrap])
    return reuse.wrap
