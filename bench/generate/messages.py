"""One generator run, message by message: who sends what to whom and when, and every copy of it.

``_OrgMail`` holds all per-run state (the organization, the clock, the one rng, the conversation
memory) and decides each message in a fixed order of random draws; the other modules build the
pieces (text, MIME parts, header block, delivery headers) from those decisions. Message *k* never
depends on how many messages were asked for.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from bench.generate.attachments import _Attachment, _new_attachment
from bench.generate.delivery import _inbox_copies
from bench.generate.encoding import _lognormal_size
from bench.generate.mime import (
    _attachment_part,
    _calendar,
    _entity,
    _header_block,
    _logo_part,
    _multipart,
    _text_entity,
)
from bench.generate.model import GeneratedCopy
from bench.generate.organization import _Organization, _Person
from bench.generate.text import _compose, _fill, _html, _languages, _plain, _Text
from bench.generate.threads import (
    _History,
    _PoolEntry,
    _quote_forward,
    _quote_reply,
    _reply_heading,
    _resend_heading,
    _rewrap,
    _ThreadEntry,
)
from bench.generate.tokens import _Tokens
from bench.generate.vocabulary import _CLIENT_WRAP, _START, _SUBJECTS


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


class _OrgMail:
    """All state of one generator run: the people, the clock, the rng and the bounded pools."""

    def __init__(self, users: int, seed: int, domain: str, attachment_share: float = 0.30) -> None:
        self.attachment_share = attachment_share
        self.seed = seed
        self.rng = random.Random(seed)
        rng = self.rng
        self.langs = _languages()
        self.org = _Organization.make(rng, users, domain)
        self.tok = _Tokens(rng, domain, self.org.short)
        self.logo = _Attachment(index=-1, kind="png", filename="image001.png", size=rng.randint(6000, 14000))
        self.t = _START
        self.gap = max(1.0, 36_000 / (users * 25))  # each user sends ~25 messages a 10-hour day
        self.next_att = 0
        self.history = _History()

    def _tick(self) -> int:
        """Advance the clock by an exponential gap, within office hours (07-17 UTC, Mon-Fri)."""
        self.t += max(1, int(self.rng.expovariate(1.0 / self.gap)))
        day, sec = divmod(self.t, 86_400)
        if sec >= 17 * 3600:
            day, sec = day + 1, 7 * 3600 + sec % 600
        elif sec < 7 * 3600:
            sec = 7 * 3600 + sec % 600
        while (day + 3) % 7 >= 5:  # 1970-01-01 was a Thursday: (day + 3) % 7 == 0 is Monday
            day += 1
        self.t = day * 86_400 + sec
        return self.t

    def _text(self, sender: _Person, first_to: _Person | None, target: int, lang: str) -> _Text:
        return _compose(self.rng, self.langs, self.org, sender, first_to, target, lang)

    def _new_attachment(self, lang: str, t: int) -> _Attachment:
        att = _new_attachment(self.rng, self.next_att, lang, t)
        self.next_att += 1
        return att

    def message(self, no: int) -> Iterator[GeneratedCopy]:
        """Yield the Sent copy, then one Inbox copy per internal recipient, of message ``no``."""
        rng, tok, org, history = self.rng, self.tok, self.org, self.history
        t = self._tick()
        n = len(org.users)
        sender_i = min(n - 1, int(n * rng.random() ** 1.6))  # some people send far more than others
        sender = org.users[sender_i]
        client = sender.client

        # what kind of message: attachments (new or an earlier one's again), inline logo,
        # invitation or plain text; some text messages answer an earlier one
        taken = {sender.addr}
        r = rng.random()
        reuse: _PoolEntry | None = None
        reply: _ThreadEntry | None = None
        if r < self.attachment_share:
            kind = "attach"
            reuse = history.pick_resend(rng)
        elif r < self.attachment_share + 0.07:
            kind = "related"
        elif r < self.attachment_share + 0.10:
            kind = "calendar"
        else:
            kind = "text"
        if kind in ("text", "related"):
            reply = history.pick_reply(rng)

        # recipients: a reply goes back to the earlier sender first
        first: list[_Person] = []
        if reply is not None and reply.sender.addr != sender.addr:
            first = [reply.sender]
            taken.add(reply.sender.addr)
        to = first + org.pick_recipients(
            rng, sender_i, rng.choices((1, 2, 3, 4, 5, 6), (50, 20, 12, 8, 6, 4))[0] - len(first), taken)
        if not to:
            to = org.pick_recipients(rng, sender_i, 1, taken)
        cc = org.pick_recipients(rng, sender_i, rng.choices((0, 1, 2, 3), (60, 20, 12, 8))[0], taken)
        bcc = org.pick_recipients(rng, sender_i, rng.randint(1, 2), taken) if rng.random() < 0.10 else []

        date = tok.date(t, 0 if client == "outlook" and sender.exchange else sender.tz)
        message_id = tok.message_id(sender)
        lang = reply.lang if reply else sender.lang
        if lang == "ja" and sender.lang != "ja":
            lang = "en"
        to_line = ", ".join(p.display for p in to)

        # subject, threading and text
        references: tuple[str, ...] = ()
        in_reply_to: str | None = None
        if reply is not None:
            subject, references, in_reply_to = _reply_heading(reply, client, lang)
            text = self._text(sender, to[0], _lognormal_size(rng, 900, 0.8, 200, 8000), lang)
            _quote_reply(text, reply, lang)
        elif reuse is not None:
            forwarded, subject, in_reply_to, references = _resend_heading(rng, reuse, client, lang)
            text = self._text(sender, to[0], _lognormal_size(rng, 500, 0.7, 150, 4000), lang)
            if forwarded:
                _quote_forward(text, reuse, client)
        else:
            subject = _fill(rng, rng.choice(_SUBJECTS[lang]), t)
            target = (_lognormal_size(rng, 600, 0.8, 150, 6000) if kind == "attach"
                      else _lognormal_size(rng, 1800, 0.8, 500, 20_000))
            text = self._text(sender, to[0] if len(to) == 1 else None, target, lang)
        plain = _plain(text, self.langs[lang].width)

        # body parts
        plain_only = kind == "text" and rng.random() < (0.05 if client == "outlook" else 0.4)
        lang_tag = {"en": "EN-US", "de": "DE", "fr": "FR", "ja": "JA"}[lang]
        logo_cid = (f"image001.png@01D9{tok.hex(6).upper()}.{tok.hex(4).upper()}"
                    if kind == "related" else None)
        if plain_only:
            top_headers, body = _text_entity(plain, "plain", client, lang)
        else:
            alt_parts = [_entity(*_text_entity(plain, "plain", client, lang)),
                         _entity(*_text_entity(_html(text, client, lang_tag, logo_cid), "html", client, lang))]
            if kind == "calendar":
                alt_parts.append(_entity(*_calendar(tok, sender, to + cc, subject, t)))
            top_headers, body = _multipart(tok, "alternative", client, 0, alt_parts)
            if kind == "related":
                top_headers, body = _multipart(
                    tok, "related", client, 1,
                    [_entity(top_headers, body), _logo_part(self.seed, self.logo, logo_cid, date)],
                    ' type="multipart/alternative";')
            if kind == "attach":
                if reuse is not None:
                    atts = reuse.attachments
                    wrap = _rewrap(rng, reuse)
                else:
                    atts = tuple(self._new_attachment(lang, t)
                                 for _ in range(rng.choices((1, 2, 3), (65, 25, 10))[0]))
                    wrap = _CLIENT_WRAP[client]
                parts = [_entity(top_headers, body)]
                for att in atts:
                    parts.append(_attachment_part(self.seed, att, client, wrap, date))
                top_headers, body = _multipart(tok, "mixed", client, 4, parts)
                del parts
                if reuse is None:
                    history.pool.append(_PoolEntry(subject=subject, sender=sender, to_line=to_line, date=date,
                                                   message_id=message_id, attachments=atts, wrap=wrap,
                                                   excerpt=plain[:1500]))
        if reuse is None:
            history.threads.append(_ThreadEntry(subject=subject, sender=sender, to_line=to_line, date=date,
                                                message_id=message_id, references=references,
                                                text=plain[:6000].rstrip("\n"), lang=lang))

        sent_head, inbox_head = _header_block(
            tok, sender, to, cc, bcc, subject, date, message_id, in_reply_to, references, lang, lang_tag,
            has_att=kind == "attach", followup=reply is not None or reuse is not None, top_headers=top_headers)

        if not isinstance(body, list):
            body = [body]
        yield GeneratedCopy(sender.addr, "Sent", b"".join([sent_head, *body]), no)
        del sent_head
        yield from _inbox_copies(tok, sender, to, cc, bcc, t, inbox_head, body, no)
