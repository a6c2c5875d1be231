"""The organization and its people: who writes to whom, in which language, threads,
replies, forwards and re-sends, and every recipient's copy with its own transport headers.
"""

from __future__ import annotations

import base64
import html
import random
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

from bench.generate.attachments import _Attachment, _attachment_bytes
from bench.generate.encoding import (
    _address_list,
    _ascii_fold,
    _b64_wrap,
    _crlf,
    _date,
    _encoded_words,
    _fold_b64,
    _lognormal_size,
    _mailbox,
    _qp,
    _queue_id,
    _rfc2231,
    _topic,
    _unstructured,
)
from bench.generate.model import CRLF, Bytes, GeneratedCopy
from bench.generate.vocabulary import (
    _ALNUM,
    _CLIENT_WRAP,
    _CLOSINGS,
    _D2,
    _DE_WORDS,
    _DISCLAIMER,
    _EN_WORDS,
    _EPOCH,
    _EXTERNAL_DOMAINS,
    _FILENAMES,
    _FIRST_NAMES,
    _FR_WORDS,
    _GREETINGS,
    _JA_NAMES,
    _JA_WORDS,
    _KIND_CTYPE,
    _KINDS,
    _LAST_NAMES,
    _LEGAL_SUFFIX,
    _N,
    _OUTLOOK_HEAD,
    _POOL_SIZE,
    _START,
    _SUBJECTS,
    _THREAD_SIZE,
    _TITLES,
    _TOPIC_TOKENS,
    _TOPICS,
    _WRAPS,
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


@dataclass
class _Text:
    """The logical text of a message, rendered to plain text and HTML alike."""

    greeting: str
    paras: list[str]
    closing: str
    signature: list[str]
    disclaimer: str | None
    quote_head: list[str]  # "On ... wrote:" or an Outlook header block
    quoted: str  # the earlier text being quoted or forwarded
    quote_gt: bool  # quote with "> " (Thunderbird/Apple) or inline below a header block (Outlook)


class _Lang:
    """A language's words with Zipf-like frequencies, so text compresses like real mail.

    Words are drawn through a 256 x 256 table indexed by two random bytes each: one ``randbytes``
    call per paragraph instead of one weighted ``choices`` step per word, and no int objects made
    per word (which keeps tracemalloc-traced runs fast as well).
    """

    def __init__(self, code: str, words: Sequence[str]) -> None:
        self.code = code
        weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(words))]
        scale = 65536 / sum(weights)
        table: list[str] = []
        for w, wt in zip(words, weights):
            table.extend([w] * max(1, round(wt * scale)))
        table = (table * 2)[:65536]
        self.table = [table[hi * 256 : hi * 256 + 256] for hi in range(256)]
        self.sep = "" if code == "ja" else " "
        self.width = 36 if code == "ja" else 72
        marks = ("。", "。", "？") if code == "ja" else (".", "?", "!")
        uniq = list(dict.fromkeys(words))
        # ready-made sentence starts and ends, so a sentence costs no new string objects
        self.cap = {w: w if code == "ja" else w[0].upper() + w[1:] for w in uniq}
        self.ends = [{w: w + m for w in uniq} for m in marks]

    def paragraph(self, rng: random.Random) -> str:
        """2-6 sentences of 5-17 words each, joined in one go (a few objects per paragraph)."""
        head = rng.randbytes(13)
        n = 2 + head[0] % 5
        lens = [5 + x % 13 for x in head[1 : 1 + n]]
        total = sum(lens)
        table = self.table
        it = iter(rng.randbytes(2 * total))
        words = [table[hi][lo] for hi, lo in zip(it, it)]
        cap, ends = self.cap, self.ends
        pos = 0
        for k, e in zip(lens, head[7 : 7 + n]):
            words[pos] = cap[words[pos]]
            pos += k
            words[pos - 1] = ends[0 if e < 205 else 1 if e < 235 else 2][words[pos - 1]]
        return self.sep.join(words)


def _wrap_text(text: str, width: int) -> list[str]:
    """Greedy word wrap (per line, not per word: cheap enough for millions of messages)."""
    lines: list[str] = []
    start, n = 0, len(text)
    while n - start > width:
        cut = text.rfind(" ", start, start + width + 1)
        if cut <= start:
            lines.append(text[start : start + width])
            start += width
        else:
            lines.append(text[start:cut])
            start = cut + 1
    lines.append(text[start:])
    return lines


class _OrgMail:
    """All state of one generator run: the people, the clock, the rng and the bounded pools."""

    def __init__(self, users: int, seed: int, domain: str, attachment_share: float = 0.30) -> None:
        self.attachment_share = attachment_share
        self.seed = seed
        self.domain = domain
        self.rng = random.Random(seed)
        rng = self.rng
        self.langs = {c: _Lang(c, w) for c, w in
                      (("en", _EN_WORDS), ("de", _DE_WORDS), ("fr", _FR_WORDS), ("ja", _JA_WORDS))}
        base = domain.split(".")[0].replace("-", " ").title()
        self.company = f"{base} {rng.choice(_LEGAL_SUFFIX)}"
        self.disclaimer = rng.random() < 0.6
        self.short = "".join(c for c in base.upper() if c.isalnum())[:4] or "ORG"
        self.users = [self._person(i, rng) for i in range(users)]
        self.externals = [self._external(rng) for _ in range(300)]
        self.logo = _Attachment(index=-1, kind="png", filename="image001.png", size=rng.randint(6000, 14000))
        self.t = _START
        self.gap = max(1.0, 36_000 / (users * 25))  # each user sends ~25 messages a 10-hour day
        self.next_att = 0
        self.pool: deque[_PoolEntry] = deque(maxlen=_POOL_SIZE)
        self.threads: deque[_ThreadEntry] = deque(maxlen=_THREAD_SIZE)
        self._dates: dict[tuple[int, int, bool], str] = {}

    # -- people ---------------------------------------------------------------------------
    def _person(self, i: int, rng: random.Random) -> _Person:
        r = rng.random()
        lang = "en" if r < 0.70 else "de" if r < 0.85 else "fr" if r < 0.95 else "ja"
        if lang == "ja":
            display, _ = rng.choice(_JA_NAMES)
            last, first = display.split(" ")
        else:
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            display = f"{last}, {first}" if rng.random() < 0.2 else f"{first} {last}"
        addr = f"user{i:04d}@{self.domain}"
        c = rng.random()
        client = "outlook" if c < 0.6 else "thunderbird" if c < 0.85 else "apple"
        tz = {"en": rng.choice((0, 60, 60, -300)), "de": 60, "fr": 60, "ja": 540}[lang]
        exchange = rng.random() < 0.6
        if exchange:
            region = rng.choice(("AM0", "AM6", "DB9", "VI1", "PA4", "FR0"))
            server = (f"{region}PR{rng.randint(1, 9):02d}MB{rng.randint(1000, 9999)}"
                      f".eurprd{rng.randint(1, 9):02d}.prod.outlook.com")
        else:
            server = f"imap{rng.randint(1, 3)}.{self.domain}"
        return _Person(
            addr=addr, first=first, last=last, display=display,
            header_b=_mailbox(display, addr, "B"), header_q=_mailbox(display, addr, "Q"),
            internal=True, client=client, lang=lang, tz=tz, exchange=exchange, server=server,
            title=rng.choice(_TITLES), phone=f"+49 89 {rng.randint(100000, 999999)}-{rng.randint(10, 99)}",
        )

    def _external(self, rng: random.Random) -> _Person:
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

    def _pick_recipients(self, sender_i: int, count: int, taken: set[str]) -> list[_Person]:
        """``count`` distinct recipients, ~20 % external, internal ones mostly from the sender's team."""
        rng, n = self.rng, len(self.users)
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

    # -- time ----------------------------------------------------------------------------
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

    # -- small random tokens ---------------------------------------------------------------
    def _queue_id(self) -> str:
        return _queue_id(self.rng.randbytes(12))

    def _date(self, t: int, tz_minutes: int, pad: bool = False) -> str:
        """``_date`` memoised: the copies of one message share their few timestamps."""
        key = (t, tz_minutes, pad)
        text = self._dates.get(key)
        if text is None:
            if len(self._dates) > 256:
                self._dates.clear()
            text = self._dates[key] = _date(t, tz_minutes, pad)
        return text

    def _hex(self, n: int) -> str:
        return self.rng.randbytes(n).hex()

    def _b64tok(self, n: int) -> str:
        return base64.b64encode(self.rng.randbytes(n)).decode("ascii")

    def _guid(self) -> str:
        h = self._hex(16)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def _message_id(self, sender: _Person) -> str:
        if sender.client == "outlook":
            host = sender.server if sender.exchange else f"EX{self.rng.randint(1, 4):02d}.{self.domain}"
            return f"<{host.split('.')[0]}{self._hex(18).upper()}@{host}>"
        if sender.client == "apple":
            return f"<{self._guid().upper()}@{self.domain}>"
        return f"<{self._guid()}@{self.domain}>"

    def _boundary(self, client: str, n: int) -> str:
        if client == "outlook":
            return f"_{n:03d}_{self.short}PR04MB{self._hex(20).upper()}_"
        if client == "apple":
            return f"Apple-Mail={self._guid().upper()}"
        return "------------" + "".join([_ALNUM[b % 62] for b in self.rng.randbytes(24)])

    def _fill(self, template: str) -> str:
        """Fill a subject or file-name template with plausible values."""
        rng = self.rng
        d = _EPOCH + timedelta(seconds=self.t)
        return template.format(
            topic=rng.choice(_TOPICS), q=rng.randint(1, 4), year=d.year, num=rng.randint(10000, 99999),
            date=f"{d.year}-{d.month:02d}-{d.day:02d}", v=rng.randint(1, 9), n4=rng.randint(1000, 9999),
            n3=rng.randint(1, 999), hh=rng.randint(8, 18), mm=f"{rng.randint(0, 59):02d}",
        )

    # -- text ------------------------------------------------------------------------------
    def _paras(self, lang: str, target: int) -> list[str]:
        """Paragraphs of 2-6 sentences until about ``target`` bytes."""
        L = self.langs[lang]
        rng = self.rng
        chars = target // 3 if lang == "ja" else target
        paras: list[str] = []
        total = 0
        while total < chars:
            p = L.paragraph(rng)
            paras.append(p)
            total += len(p) + 2
        return paras

    def _text(self, sender: _Person, first_to: _Person | None, target: int, lang: str) -> _Text:
        rng = self.rng
        to_first = first_to.first if first_to else "all"
        to_last = first_to.last if first_to else "皆"  # "皆様": everyone
        greeting = rng.choice(_GREETINGS[lang]).format(first=to_first, last=to_last)
        name = sender.display if sender.lang == "ja" else f"{sender.first} {sender.last}"
        sig = [name, sender.title, self.company, f"Tel. {sender.phone}", sender.addr]
        disclaimer = _DISCLAIMER if self.disclaimer and sender.client == "outlook" else None
        return _Text(greeting=greeting, paras=self._paras(lang, target), closing=rng.choice(_CLOSINGS[lang]),
                     signature=sig, disclaimer=disclaimer, quote_head=[], quoted="",
                     quote_gt=sender.client != "outlook")

    @staticmethod
    def _plain(t: _Text, width: int) -> str:
        out = [t.greeting, ""]
        for p in t.paras:
            out.extend(_wrap_text(p, width))
            out.append("")
        out.append(t.closing)
        out.extend(t.signature)
        if t.disclaimer:
            out.append("")
            out.extend(_wrap_text(t.disclaimer, width))
        if t.quote_head:
            out.append("")
            out.extend(t.quote_head)
            if t.quote_gt:
                out.extend("> " + ln if ln else ">" for ln in t.quoted.split("\n"))
            else:
                out.append("")
                out.append(t.quoted)
        return "\n".join(out) + "\n"

    @staticmethod
    def _html(t: _Text, client: str, lang_tag: str, logo_cid: str | None) -> str:
        esc = html.escape
        if client == "outlook":
            p = '<p class="MsoNormal">{}<o:p></o:p></p>\n'
            blank = '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>\n'
            out = [_OUTLOOK_HEAD.replace("{lang}", lang_tag)]
        else:
            p = "<div>{}</div>\n" if client == "apple" else "<p>{}</p>\n"
            blank = "<div><br></div>\n" if client == "apple" else "<p><br></p>\n"
            out = ['<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head>\n'
                   '<body style="overflow-wrap: break-word;">\n']
        out.append(p.format(esc(t.greeting)))
        out.append(blank)
        for para in t.paras:
            out.append(p.format(esc(para)))
            out.append(blank)
        out.append(p.format(esc(t.closing)))
        out.append(p.format("<br>\n".join(esc(s) for s in t.signature)))
        if logo_cid:
            out.append(p.format(f'<img width="180" height="48" style="width:1.875in;height:.5in" '
                                f'id="Picture_x0020_1" src="cid:{logo_cid}" alt="{esc(t.signature[2])}">'))
        if t.disclaimer:
            out.append(p.format(f'<span style="font-size:7.5pt;color:gray">{esc(t.disclaimer)}</span>'))
        if t.quote_head:
            quoted = "".join(p.format(esc(q).replace("\n", "<br>\n")) for q in t.quoted.split("\n\n"))
            if t.quote_gt:
                out.append(f'<div class="moz-cite-prefix">{esc(" ".join(t.quote_head))}<br></div>\n'
                           f'<blockquote type="cite">\n{quoted}</blockquote>\n')
            else:
                head = "<br>\n".join(esc(h) for h in t.quote_head)
                out.append('<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">\n'
                           f"{p.format(head)}</div>\n{quoted}")
        out.append("</div>\n</body>\n</html>\n" if client == "outlook" else "</body>\n</html>\n")
        return "".join(out)

    # -- MIME entities ---------------------------------------------------------------------
    def _text_entity(self, text: str, subtype: str, client: str, lang: str) -> tuple[list[str], Bytes]:
        """One text part with the charset and transfer encoding the sending client would choose."""
        if subtype == "html" or (client != "thunderbird" and not text.isascii() and lang != "ja"):
            cs = "utf-8" if client == "outlook" else "UTF-8"
            return [f'Content-Type: text/{subtype}; charset="{cs}"',
                    "Content-Transfer-Encoding: quoted-printable"], _qp(text)
        if lang == "ja":
            return ['Content-Type: text/plain; charset="UTF-8"', "Content-Transfer-Encoding: base64"], \
                _b64_wrap(text.encode("utf-8"))
        if text.isascii():
            ctype = {"outlook": 'text/plain; charset="us-ascii"', "apple": "text/plain; charset=us-ascii",
                     "thunderbird": "text/plain; charset=UTF-8; format=flowed"}[client]
            return [f"Content-Type: {ctype}", "Content-Transfer-Encoding: 7bit"], _crlf(text)
        return ["Content-Type: text/plain; charset=UTF-8; format=flowed",
                "Content-Transfer-Encoding: 8bit"], _crlf(text)

    @staticmethod
    def _entity(headers: list[str], body: Bytes | list[Bytes]) -> list[Bytes]:
        """An entity as a list of byte pieces: big bodies are copied once, into each copy."""
        head = ("\r\n".join(headers) + "\r\n\r\n").encode("ascii")
        return [head, *body] if isinstance(body, list) else [head, body]

    def _multipart(self, subtype: str, client: str, n: int, parts: list[list[Bytes]],
                   extra: str = "") -> tuple[list[str], list[Bytes]]:
        b = self._boundary(client, n)
        delim = f"--{b}\r\n".encode()
        chunks: list[Bytes] = [b"This is a multi-part message in MIME format.\r\n"] if client == "thunderbird" else []
        for part in parts:
            chunks.append(delim)
            chunks.extend(part)
            chunks.append(CRLF)
        chunks.append(f"--{b}--\r\n".encode())
        return [f'Content-Type: multipart/{subtype};{extra}\r\n\tboundary="{b}"'], chunks

    def _attachment_part(self, att: _Attachment, client: str, wrap: tuple[int, bytes], date: str) -> list[Bytes]:
        raw = _attachment_bytes(self.seed, att)
        size = len(raw)
        body = _b64_wrap(raw, *wrap)
        del raw
        ctype = _KIND_CTYPE[att.kind]
        name = att.filename
        if name.isascii():
            name_p, file_p = f'name="{name}"', f'filename="{name}"'
        elif client == "outlook":
            enc = " ".join(_encoded_words(name, "B"))
            name_p, file_p = f'name="{enc}"', f'filename="{enc}"'
        else:
            name_p, file_p = f'name="{" ".join(_encoded_words(name, "Q"))}"', f"filename*={_rfc2231(name)}"
        if att.kind in ("csv", "txt"):
            ctype += "; charset=UTF-8" if client == "thunderbird" else ""
        type_h = f"Content-Type: {ctype};\r\n\t{name_p}"
        if client == "outlook":
            desc = name if name.isascii() else " ".join(_encoded_words(name, "B"))
            headers = [type_h, f"Content-Description: {desc}",
                       f"Content-Disposition: attachment;\r\n\t{file_p}; size={size};\r\n"
                       f'\tcreation-date="{date}";\r\n\tmodification-date="{date}"',
                       "Content-Transfer-Encoding: base64"]
        elif client == "apple":
            headers = [f"Content-Disposition: attachment;\r\n\t{file_p}", type_h,
                       "Content-Transfer-Encoding: base64"]
        else:
            headers = [type_h, f"Content-Disposition: attachment;\r\n {file_p}",
                       "Content-Transfer-Encoding: base64"]
        return self._entity(headers, body)

    # -- one message -----------------------------------------------------------------------
    def message(self, no: int) -> Iterator[GeneratedCopy]:
        """Yield the Sent copy, then one Inbox copy per internal recipient, of message ``no``."""
        rng = self.rng
        t = self._tick()
        n = len(self.users)
        sender_i = min(n - 1, int(n * rng.random() ** 1.6))  # some people send far more than others
        sender = self.users[sender_i]
        client = sender.client
        mode = "B" if client == "outlook" else "Q"

        taken = {sender.addr}
        r = rng.random()
        reuse: _PoolEntry | None = None
        reply: _ThreadEntry | None = None
        if r < self.attachment_share:
            kind = "attach"
            if self.pool and rng.random() < 0.25:
                reuse = self.pool[-1 - min(len(self.pool) - 1, int(rng.expovariate(1 / 20)))] \
                    if rng.random() < 0.7 else rng.choice(self.pool)
        elif r < self.attachment_share + 0.07:
            kind = "related"
        elif r < self.attachment_share + 0.10:
            kind = "calendar"
        else:
            kind = "text"
        if kind in ("text", "related") and self.threads and rng.random() < 0.075:
            reply = self.threads[-1 - min(len(self.threads) - 1, int(rng.expovariate(1 / 8)))]

        first: list[_Person] = []
        if reply is not None and reply.sender.addr != sender.addr:
            first = [reply.sender]
            taken.add(reply.sender.addr)
        to = first + self._pick_recipients(
            sender_i, rng.choices((1, 2, 3, 4, 5, 6), (50, 20, 12, 8, 6, 4))[0] - len(first), taken)
        if not to:
            to = self._pick_recipients(sender_i, 1, taken)
        cc = self._pick_recipients(sender_i, rng.choices((0, 1, 2, 3), (60, 20, 12, 8))[0], taken)
        bcc = self._pick_recipients(sender_i, rng.randint(1, 2), taken) if rng.random() < 0.10 else []

        date = self._date(t, 0 if client == "outlook" and sender.exchange else sender.tz)
        message_id = self._message_id(sender)
        lang = reply.lang if reply else sender.lang
        if lang == "ja" and sender.lang != "ja":
            lang = "en"
        hdr = (lambda p: p.header_b) if mode == "B" else (lambda p: p.header_q)
        to_line = ", ".join(p.display for p in to)

        # subject, threading and text
        references: tuple[str, ...] = ()
        in_reply_to: str | None = None
        if reply is not None:
            re_ = {"outlook": "AW: " if lang == "de" else "RE: "}.get(client, "Re: ")
            subject = reply.subject if reply.subject.lower().startswith(("re:", "aw:")) else re_ + reply.subject
            references = (reply.references + (reply.message_id,))[-10:]
            in_reply_to = reply.message_id
            text = self._text(sender, to[0], _lognormal_size(rng, 900, 0.8, 200, 8000), lang)
            if text.quote_gt:
                text.quote_head = [f"On {reply.date}, {reply.sender.display} wrote:" if lang != "de"
                                   else f"Am {reply.date} schrieb {reply.sender.display}:"]
            else:
                rule = "-----Ursprüngliche Nachricht-----" if lang == "de" else "-----Original Message-----"
                text.quote_head = [rule,
                                   f"From: {reply.sender.display} <{reply.sender.addr}>", f"Sent: {reply.date}",
                                   f"To: {reply.to_line}", f"Subject: {reply.subject}"]
            text.quoted = reply.text
        elif reuse is not None:
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
            text = self._text(sender, to[0], _lognormal_size(rng, 500, 0.7, 150, 4000), lang)
            if style < 0.5:
                text.quote_gt = False
                origin = f"From: {reuse.sender.display} <{reuse.sender.addr}>"
                if client == "outlook":
                    text.quote_head = [origin, f"Sent: {reuse.date}", f"To: {reuse.to_line}",
                                       f"Subject: {reuse.subject}"]
                else:
                    text.quote_head = ["---------- Forwarded message ---------", origin, f"Date: {reuse.date}",
                                       f"Subject: {reuse.subject}", f"To: {reuse.to_line}"]
                text.quoted = reuse.excerpt
        else:
            subject = self._fill(rng.choice(_SUBJECTS[lang]))
            target = (_lognormal_size(rng, 600, 0.8, 150, 6000) if kind == "attach"
                      else _lognormal_size(rng, 1800, 0.8, 500, 20_000))
            text = self._text(sender, to[0] if len(to) == 1 else None, target, lang)
        plain = self._plain(text, self.langs[lang].width)

        # body parts
        plain_only = kind == "text" and rng.random() < (0.05 if client == "outlook" else 0.4)
        lang_tag = {"en": "EN-US", "de": "DE", "fr": "FR", "ja": "JA"}[lang]
        logo_cid = (f"image001.png@01D9{self._hex(6).upper()}.{self._hex(4).upper()}"
                    if kind == "related" else None)
        if plain_only:
            top_headers, body = self._text_entity(plain, "plain", client, lang)
        else:
            alt_parts = [self._entity(*self._text_entity(plain, "plain", client, lang)),
                         self._entity(*self._text_entity(self._html(text, client, lang_tag, logo_cid),
                                                               "html", client, lang))]
            if kind == "calendar":
                alt_parts.append(self._entity(*self._calendar(sender, to + cc, subject, t)))
            top_headers, body = self._multipart("alternative", client, 0, alt_parts)
            if kind == "related":
                logo = _attachment_bytes(self.seed, self.logo)
                logo_part = self._entity(
                    ['Content-Type: image/png; name="image001.png"',
                     'Content-Description: image001.png', 'Content-Disposition: inline; filename="image001.png";'
                     f" size={len(logo)};\r\n\tcreation-date=\"{date}\";\r\n\tmodification-date=\"{date}\"",
                     f"Content-ID: <{logo_cid}>", "Content-Transfer-Encoding: base64"],
                    _b64_wrap(logo))
                top_headers, body = self._multipart(
                    "related", client, 1, [self._entity(top_headers, body), logo_part],
                    ' type="multipart/alternative";')
            if kind == "attach":
                if reuse is not None:
                    atts = reuse.attachments
                    if rng.random() < 0.5:
                        wrap = rng.choice([w for w in _WRAPS if w != reuse.wrap])
                    else:
                        wrap = reuse.wrap
                else:
                    atts = tuple(self._new_attachment(lang) for _ in range(rng.choices((1, 2, 3), (65, 25, 10))[0]))
                    wrap = _CLIENT_WRAP[client]
                parts = [self._entity(top_headers, body)]
                for att in atts:
                    parts.append(self._attachment_part(att, client, wrap, date))
                top_headers, body = self._multipart("mixed", client, 4, parts)
                del parts
                if reuse is None:
                    self.pool.append(_PoolEntry(subject=subject, sender=sender, to_line=to_line, date=date,
                                                message_id=message_id, attachments=atts, wrap=wrap,
                                                excerpt=plain[:1500]))
        if reuse is None:
            self.threads.append(_ThreadEntry(subject=subject, sender=sender, to_line=to_line, date=date,
                                             message_id=message_id, references=references,
                                             text=plain[:6000].rstrip("\n"), lang=lang))

        # top-level headers, in the order the sending client writes them
        from_h = f"From: {hdr(sender)}"
        to_h = _address_list("To", [hdr(p) for p in to])
        cc_h = _address_list("CC" if client == "outlook" else "Cc", [hdr(p) for p in cc]) if cc else None
        bcc_h = _address_list("BCC" if client == "outlook" else "Bcc", [hdr(p) for p in bcc]) if bcc else None
        subj_h = _unstructured("Subject", subject, mode)
        thread_h = []
        if in_reply_to:
            thread_h = [f"In-Reply-To: {in_reply_to}", "References: " + "\r\n ".join(references)]
        has_att = kind == "attach"
        if client == "outlook":
            head = [from_h, to_h, cc_h, bcc_h, subj_h,
                    _unstructured("Thread-Topic", _topic(subject), mode),
                    f"Thread-Index: {self._b64tok(22 if not (reply or reuse) else 27)}",
                    f"Date: {date}", f"Message-ID: {message_id}", *thread_h,
                    f"Accept-Language: {lang_tag.lower()}, en-US" if lang != "en" else "Accept-Language: en-US",
                    f"Content-Language: {lang_tag.lower() if lang != 'en' else 'en-US'}",
                    f"X-MS-Has-Attach: {'yes' if has_att else ''}", "X-MS-TNEF-Correlator:",
                    *top_headers, "MIME-Version: 1.0"]
        elif client == "thunderbird":
            head = [f"Message-ID: {message_id}", f"Date: {date}", "MIME-Version: 1.0",
                    "User-Agent: Mozilla Thunderbird", f"Content-Language: {lang_tag.lower()}",
                    to_h, cc_h, bcc_h, from_h, subj_h, *thread_h, *top_headers]
        else:
            head = [from_h, *top_headers, "Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3731.500.231\\))",
                    subj_h, f"Message-Id: {message_id}", *thread_h, f"Date: {date}", cc_h, bcc_h, to_h,
                    "X-Mailer: Apple Mail (2.3731.500.231)"]
        lines = [h for h in head if h]
        sent_head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        inbox_head = ("\r\n".join(h for h in lines if h is not bcc_h) + "\r\n\r\n").encode("ascii")

        if not isinstance(body, list):
            body = [body]
        yield GeneratedCopy(sender.addr, "Sent", b"".join([sent_head, *body]), no)
        del sent_head
        dkim = self._dkim(t) if rng.random() < 0.4 else None
        arc = rng.random() < 0.3
        submission = self._submission_received(sender, t)
        network_id = self._guid()
        for p2_type, people in (("To", to), ("Cc", cc), ("Bcc", bcc)):
            for p in people:
                if p.internal:
                    prefix = self._transport(sender, p, p2_type, t, dkim, arc, submission, network_id)
                    yield GeneratedCopy(p.addr, "Inbox", b"".join([prefix, inbox_head, *body]), no)

    def _new_attachment(self, lang: str) -> _Attachment:
        rng = self.rng
        kinds = [k[0] for k in _KINDS]
        kind = rng.choices(kinds, [k[1] for k in _KINDS])[0]
        spec = next(k for k in _KINDS if k[0] == kind)
        if rng.random() < 0.001:
            size = rng.randint(5_000_000, 15_000_000)
        else:
            size = _lognormal_size(rng, spec[3], spec[4], 20_000, 5_000_000)
        names = _FILENAMES[kind]
        name = rng.choice(names if lang != "en" else [n for n in names if n.isascii()] or names)
        name = self._fill(name.replace("{topic}", rng.choice(_TOPIC_TOKENS)))
        self.next_att += 1
        return _Attachment(index=self.next_att - 1, kind=kind, filename=name, size=size)

    def _calendar(self, organizer: _Person, attendees: list[_Person], subject: str, t: int) -> tuple[list[str], bytes]:
        """A text/calendar METHOD:REQUEST part, as Outlook adds to invitations."""
        rng = self.rng
        start = (t // 86_400 + rng.randint(1, 10)) * 86_400 + rng.randint(8, 16) * 3600
        def ics_time(x: int) -> str:
            d = _EPOCH + timedelta(seconds=x)
            return f"{d.year}{d.month:02d}{d.day:02d}T{d.hour:02d}{d.minute:02d}{d.second:02d}"
        def fold(line: str) -> str:
            return "\r\n ".join(line[i : i + 74] for i in range(0, len(line), 74))
        lines = ["BEGIN:VCALENDAR", "METHOD:REQUEST", "PRODID:Microsoft Exchange Server 2010", "VERSION:2.0",
                 "BEGIN:VTIMEZONE", "TZID:W. Europe Standard Time", "BEGIN:STANDARD", "DTSTART:16010101T030000",
                 "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10",
                 "END:STANDARD", "BEGIN:DAYLIGHT", "DTSTART:16010101T020000", "TZOFFSETFROM:+0100",
                 "TZOFFSETTO:+0200", "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3", "END:DAYLIGHT",
                 "END:VTIMEZONE", "BEGIN:VEVENT",
                 fold(f"ORGANIZER;CN={organizer.display}:mailto:{organizer.addr}")]
        lines += [fold(f"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN={a.display}:mailto:{a.addr}")
                  for a in attendees]
        lines += [fold(f"SUMMARY;LANGUAGE=en-US:{subject}"),
                  f"DTSTART;TZID=W. Europe Standard Time:{ics_time(start)}",
                  f"DTEND;TZID=W. Europe Standard Time:{ics_time(start + 3600)}",
                  f"UID:040000008200E00074C5B7101A82E008000000{self._hex(28).upper()}",
                  "CLASS:PUBLIC", "PRIORITY:5", f"DTSTAMP:{ics_time(t)}Z", "TRANSP:OPAQUE", "STATUS:CONFIRMED",
                  "SEQUENCE:0", "LOCATION;LANGUAGE=en-US:Microsoft Teams Meeting",
                  "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE", "X-MICROSOFT-CDO-IMPORTANCE:1",
                  "BEGIN:VALARM", "DESCRIPTION:REMINDER", "TRIGGER;RELATED=START:-PT15M", "ACTION:DISPLAY",
                  "END:VALARM", "END:VEVENT", "END:VCALENDAR"]
        data = ("\r\n".join(lines) + "\r\n").encode("utf-8")
        return ['Content-Type: text/calendar; charset="utf-8"; method=REQUEST',
                "Content-Transfer-Encoding: base64"], bytes(_b64_wrap(data))

    # -- transport headers -----------------------------------------------------------------
    def _dkim(self, t: int) -> str:
        return _fold_b64(
            f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={self.domain};\r\n\t"
            f"s=selector{self.rng.randint(1, 2)}; t={t};\r\n\th=From:To:Subject:Date:Message-ID:"
            f"Content-Type:MIME-Version;\r\n\tbh={self._b64tok(32)};\r\n\tb=",
            self._b64tok(256))

    def _submission_received(self, sender: _Person, t: int) -> str:
        """The client's submission hop: the same in every Inbox copy of one message."""
        rng = self.rng
        if sender.exchange:
            h = self._hex(16)
            return (f"Received: from {sender.server} ([fe80::{h[0:4]}:{h[4:8]}:{h[8:12]}:{h[12:16]}]) by "
                    f"{sender.server}\r\n ([fe80::{h[16:20]}:{h[20:24]}:{h[24:28]}:{h[28:32]}%{rng.randint(3, 7)}])"
                    f" with mapi id 15.20.{rng.randint(6000, 7999)}.0{rng.randint(10, 99)}; {self._date(t, 0)}")
        ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        qid = self._queue_id()
        return (f"Received: from [192.168.{rng.randint(0, 9)}.{rng.randint(2, 250)}] (unknown [{ip}])\r\n"
                f"\t(Authenticated sender: {sender.addr})\r\n\tby smtp.{self.domain} (Postfix) with ESMTPSA"
                f" id {qid};\r\n\t{self._date(t, sender.tz, pad=True)}")

    def _transport(self, sender: _Person, rcpt: _Person, p2: str, t: int, dkim: str | None, arc: bool,
                   submission: str, network_id: str) -> bytes:
        """What the recipient's servers prepend to this one Inbox copy (per-recipient ids and times).

        All small random numbers come from one ``randbytes`` call: this runs once per copy.
        """
        rb = self.rng.randbytes(40)
        hx = rb[16:40].hex()
        d = self.domain
        t1 = t + rb[0] % 3
        t2 = t1 + rb[1] % 4
        relay = sender.server if sender.exchange else f"mx1.{d}"
        h: list[str] = []
        if rcpt.exchange:
            h += [f"Return-Path: {sender.addr}", f"Delivered-To: {rcpt.addr}",
                  f"Received: from {relay} by {rcpt.server} with HTTPS; {self._date(t2, 0)}"]
            if rb[2] < 128:
                pod, rest = rcpt.server.split(".", 1)
                h.append(f"Received: from {pod[:3]}P{_N[rb[3] % 9 + 1]}{_D2[rb[4] % 100]}CA{hx[:4].upper()}.{rest}"
                         f" (2603:10a6:{hx[4:8]}:{hx[8:10]}::{hx[10:14]}) by {rcpt.server}\r\n"
                         f" (2603:10a6:{hx[14:18]}:{hx[18:20]}::{hx[20:24]}) with Microsoft SMTP Server"
                         f" (version=TLS1_2,\r\n cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.6"
                         f"{_D2[rb[5] % 100]}.0{_N[rb[6] % 90 + 10]}; {self._date(t1, 0)}")
            h.append(submission)
            h.append(f"Authentication-Results: dkim={'pass' if dkim else 'none'} "
                     f"({'signature was verified' if dkim else 'message not signed'})\r\n header.d={d};dmarc=pass"
                     f" action=none header.from={d};")
        else:
            lmtp = base64.b64encode(rb[24:40]).decode("ascii").rstrip("=")
            h += [f"Return-Path: <{sender.addr}>", f"Delivered-To: {rcpt.addr}",
                  f"Received: from mx1.{d}\r\n\tby {rcpt.server} with LMTP\r\n\tid {lmtp}\r\n"
                  f"\t(envelope-from <{sender.addr}>)\r\n\tfor <{rcpt.addr}>; {self._date(t2, rcpt.tz, pad=True)}"]
            if rb[2] < 128:
                h.append(f"Received: from localhost (localhost [127.0.0.1])\r\n\tby mx1.{d} (Postfix) with ESMTP id "
                         f"{_queue_id(rb[4:16])}\r\n\tfor <{rcpt.addr}>; {self._date(t2, rcpt.tz, pad=True)}")
            h.append(f"Received: from smtp.{d} (smtp.{d} [10.0.0.25])\r\n\t(using TLSv1.3 with cipher "
                     f"TLS_AES_256_GCM_SHA384 (256/256 bits)\r\n\t key-exchange X25519 server-signature RSA-PSS "
                     f"(2048 bits))\r\n\t(No client certificate requested)\r\n\tby mx1.{d} (Postfix) with ESMTPS id "
                     f"{_queue_id(rb[16:28])}\r\n\tfor <{rcpt.addr}>; {self._date(t1, rcpt.tz, pad=True)}")
            h.append(submission)
            verdict = f"pass (2048-bit key; unprotected) header.d={d} header.i=@{d} header.b={lmtp[:8]}" \
                if dkim else f"none header.d={d}"
            h.append(f"Authentication-Results: mx1.{d};\r\n\tdkim={verdict};\r\n\tdkim-atps=neutral")
            h.append(f"X-Spam-Status: No, score=-{_N[rb[3] % 4]}.{_N[rb[5] % 10]} required=5.0 tests=ALL_TRUSTED,"
                     f"BAYES_00\r\n\tautolearn=ham autolearn_force=no version=3.4.6")
        if arc:
            selector = _N[rb[7] % 9 + 1]
            h.append(_fold_b64(f"ARC-Seal: i=1; a=rsa-sha256; s=arcselector{selector}; d={d}; t={t1};"
                               " cv=none;\r\n\tb=", self._b64tok(256)))
            h.append(_fold_b64(f"ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d={d};\r\n\ts=arcselector"
                               f"{selector}; t={t1};\r\n\th=From:Date:Subject:Message-ID:Content-Type:"
                               f"MIME-Version;\r\n\tbh={self._b64tok(32)};\r\n\tb=", self._b64tok(256)))
            h.append(f"ARC-Authentication-Results: i=1; mx1.{d}; spf=pass smtp.mailfrom={d}; dkim=pass\r\n"
                     f" header.d={d}; dmarc=pass header.from={d}; arc=none")
        if dkim:
            h.append(dkim)
        if rcpt.exchange:
            h += [f"X-MS-Exchange-Organization-ExpirationStartTime: {self._date(t1, 0)[5:-6]}.{_D2[rb[8] % 100]}"
                  f"{_D2[rb[9] % 100]} (UTC)",
                  "X-MS-Exchange-Organization-ExpirationStartTimeReason: OriginalSubmit",
                  "X-MS-Exchange-Organization-ExpirationInterval: 1:00:00:00.0000000",
                  "X-MS-Exchange-Organization-ExpirationIntervalReason: OriginalSubmit",
                  f"X-MS-Exchange-Organization-Network-Message-Id:\r\n\t{network_id}",
                  "X-MS-Exchange-Organization-MessageDirectionality: Originating",
                  f"X-MS-Exchange-Organization-AuthSource: {relay}",
                  "X-MS-Exchange-Organization-AuthAs: Internal",
                  "X-MS-Exchange-Organization-AuthMechanism: 04",
                  "X-MS-Exchange-Organization-SCL: -1"]
            if p2 == "Bcc":
                h.append("X-MS-Exchange-Organization-Recipient-P2-Type: Bcc")
            h += [f"X-MS-Exchange-Transport-EndToEndLatency: 00:00:0{_N[t2 - t]}.{_D2[rb[10] % 100]}{_D2[rb[11] % 100]}"
                  f"{_D2[rb[12] % 100]}{_N[rb[13] % 10]}",
                  f"X-MS-Exchange-Processed-By-BccFoldering: 15.20.6{_D2[rb[5] % 100]}.0{_N[rb[6] % 90 + 10]}"]
        h.append("")
        return "\r\n".join(h).encode("ascii")
