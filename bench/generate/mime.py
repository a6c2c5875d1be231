"""The message as the sending client writes it: text parts with that client's charset and
transfer encoding, multiparts, attachment and inline-image parts, Outlook's calendar invitation,
and the top-level header block in the client's own header order.

Entities are lists of byte pieces, so a large attachment body is joined only once, into each copy.
"""

from __future__ import annotations

from datetime import timedelta

from bench.generate.attachments import _Attachment, _attachment_bytes
from bench.generate.encoding import (
    _address_list,
    _b64_wrap,
    _crlf,
    _encoded_words,
    _qp,
    _rfc2231,
    _topic,
    _unstructured,
)
from bench.generate.model import CRLF, Bytes
from bench.generate.organization import _Person
from bench.generate.tokens import _Tokens
from bench.generate.vocabulary import _EPOCH, _KIND_CTYPE


def _text_entity(text: str, subtype: str, client: str, lang: str) -> tuple[list[str], Bytes]:
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


def _entity(headers: list[str], body: Bytes | list[Bytes]) -> list[Bytes]:
    """An entity as a list of byte pieces: big bodies are copied once, into each copy."""
    head = ("\r\n".join(headers) + "\r\n\r\n").encode("ascii")
    return [head, *body] if isinstance(body, list) else [head, body]


def _multipart(tok: _Tokens, subtype: str, client: str, n: int, parts: list[list[Bytes]],
               extra: str = "") -> tuple[list[str], list[Bytes]]:
    """A multipart entity (headers, body pieces) around ``parts``, with the client's boundary."""
    b = tok.boundary(client, n)
    delim = f"--{b}\r\n".encode()
    chunks: list[Bytes] = [b"This is a multi-part message in MIME format.\r\n"] if client == "thunderbird" else []
    for part in parts:
        chunks.append(delim)
        chunks.extend(part)
        chunks.append(CRLF)
    chunks.append(f"--{b}--\r\n".encode())
    return [f'Content-Type: multipart/{subtype};{extra}\r\n\tboundary="{b}"'], chunks


def _attachment_part(seed: int, att: _Attachment, client: str, wrap: tuple[int, bytes], date: str) -> list[Bytes]:
    """An attachment part, its name encoded and its headers ordered as the client does; ``wrap`` is
    the base64 layout (line length, line end)."""
    raw = _attachment_bytes(seed, att)
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
    return _entity(headers, body)


def _logo_part(seed: int, logo: _Attachment, logo_cid: str, date: str) -> list[Bytes]:
    """The company logo in an Outlook signature: an inline image the HTML refers to by Content-ID."""
    raw = _attachment_bytes(seed, logo)
    return _entity(
        ['Content-Type: image/png; name="image001.png"',
         'Content-Description: image001.png', 'Content-Disposition: inline; filename="image001.png";'
         f" size={len(raw)};\r\n\tcreation-date=\"{date}\";\r\n\tmodification-date=\"{date}\"",
         f"Content-ID: <{logo_cid}>", "Content-Transfer-Encoding: base64"],
        _b64_wrap(raw))


def _calendar(tok: _Tokens, organizer: _Person, attendees: list[_Person], subject: str,
              t: int) -> tuple[list[str], bytes]:
    """A text/calendar METHOD:REQUEST part, as Outlook adds to invitations."""
    rng = tok.rng
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
              f"UID:040000008200E00074C5B7101A82E008000000{tok.hex(28).upper()}",
              "CLASS:PUBLIC", "PRIORITY:5", f"DTSTAMP:{ics_time(t)}Z", "TRANSP:OPAQUE", "STATUS:CONFIRMED",
              "SEQUENCE:0", "LOCATION;LANGUAGE=en-US:Microsoft Teams Meeting",
              "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE", "X-MICROSOFT-CDO-IMPORTANCE:1",
              "BEGIN:VALARM", "DESCRIPTION:REMINDER", "TRIGGER;RELATED=START:-PT15M", "ACTION:DISPLAY",
              "END:VALARM", "END:VEVENT", "END:VCALENDAR"]
    data = ("\r\n".join(lines) + "\r\n").encode("utf-8")
    return ['Content-Type: text/calendar; charset="utf-8"; method=REQUEST',
            "Content-Transfer-Encoding: base64"], bytes(_b64_wrap(data))


def _header_block(tok: _Tokens, sender: _Person, to: list[_Person], cc: list[_Person], bcc: list[_Person],
                  subject: str, date: str, message_id: str, in_reply_to: str | None, references: tuple[str, ...],
                  lang: str, lang_tag: str, has_att: bool, followup: bool,
                  top_headers: list[str]) -> tuple[bytes, bytes]:
    """The top-level headers in the order the sending client writes them, ending in the blank line:
    the Sent copy's (with Bcc) and the Inbox copies' (without). ``followup``: a reply or re-send,
    which makes Outlook's Thread-Index longer.
    """
    client = sender.client
    mode = "B" if client == "outlook" else "Q"
    hdr = (lambda p: p.header_b) if mode == "B" else (lambda p: p.header_q)
    from_h = f"From: {hdr(sender)}"
    to_h = _address_list("To", [hdr(p) for p in to])
    cc_h = _address_list("CC" if client == "outlook" else "Cc", [hdr(p) for p in cc]) if cc else None
    bcc_h = _address_list("BCC" if client == "outlook" else "Bcc", [hdr(p) for p in bcc]) if bcc else None
    subj_h = _unstructured("Subject", subject, mode)
    thread_h = []
    if in_reply_to:
        thread_h = [f"In-Reply-To: {in_reply_to}", "References: " + "\r\n ".join(references)]
    if client == "outlook":
        head = [from_h, to_h, cc_h, bcc_h, subj_h,
                _unstructured("Thread-Topic", _topic(subject), mode),
                f"Thread-Index: {tok.b64tok(22 if not followup else 27)}",
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
    return sent_head, inbox_head
