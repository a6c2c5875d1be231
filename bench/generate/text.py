"""Message text: words drawn like natural language, greetings, signatures, quoted earlier mail,
rendered to plain text and to HTML the way each mail client writes them.

Bodies are what the archive compresses well, so their words follow Zipf-like frequencies in four
languages; plain and HTML renderings come from one logical ``_Text`` so they say the same thing.
"""

from __future__ import annotations

import html
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from bench.generate.organization import _Organization, _Person
from bench.generate.vocabulary import (
    _CLOSINGS,
    _DE_WORDS,
    _DISCLAIMER,
    _EN_WORDS,
    _EPOCH,
    _FR_WORDS,
    _GREETINGS,
    _JA_WORDS,
    _OUTLOOK_HEAD,
    _TOPICS,
)


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


def _languages() -> dict[str, _Lang]:
    """The four languages' word tables (built once per run; no randomness)."""
    return {c: _Lang(c, w) for c, w in
            (("en", _EN_WORDS), ("de", _DE_WORDS), ("fr", _FR_WORDS), ("ja", _JA_WORDS))}


def _fill(rng: random.Random, template: str, t: int) -> str:
    """Fill a subject or file-name template with plausible values (dates from the clock ``t``)."""
    d = _EPOCH + timedelta(seconds=t)
    return template.format(
        topic=rng.choice(_TOPICS), q=rng.randint(1, 4), year=d.year, num=rng.randint(10000, 99999),
        date=f"{d.year}-{d.month:02d}-{d.day:02d}", v=rng.randint(1, 9), n4=rng.randint(1000, 9999),
        n3=rng.randint(1, 999), hh=rng.randint(8, 18), mm=f"{rng.randint(0, 59):02d}",
    )


def _paras(rng: random.Random, L: _Lang, lang: str, target: int) -> list[str]:
    """Paragraphs of 2-6 sentences until about ``target`` bytes."""
    chars = target // 3 if lang == "ja" else target
    paras: list[str] = []
    total = 0
    while total < chars:
        p = L.paragraph(rng)
        paras.append(p)
        total += len(p) + 2
    return paras


def _compose(rng: random.Random, langs: dict[str, _Lang], org: _Organization, sender: _Person,
             first_to: _Person | None, target: int, lang: str) -> _Text:
    """A new text of about ``target`` bytes: greeting, paragraphs, closing, the sender's signature."""
    to_first = first_to.first if first_to else "all"
    to_last = first_to.last if first_to else "皆"  # "皆様": everyone
    greeting = rng.choice(_GREETINGS[lang]).format(first=to_first, last=to_last)
    name = sender.display if sender.lang == "ja" else f"{sender.first} {sender.last}"
    sig = [name, sender.title, org.company, f"Tel. {sender.phone}", sender.addr]
    disclaimer = _DISCLAIMER if org.disclaimer and sender.client == "outlook" else None
    return _Text(greeting=greeting, paras=_paras(rng, langs[lang], lang, target),
                 closing=rng.choice(_CLOSINGS[lang]), signature=sig, disclaimer=disclaimer, quote_head=[],
                 quoted="", quote_gt=sender.client != "outlook")


def _plain(t: _Text, width: int) -> str:
    """The text's text/plain rendering, wrapped at ``width``; quotes as the client writes them."""
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


def _html(t: _Text, client: str, lang_tag: str, logo_cid: str | None) -> str:
    """The text's text/html rendering in the client's markup (Outlook's MsoNormal, Apple's divs ...)."""
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
