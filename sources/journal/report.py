"""Exchange envelope journal reports: find the original message and who it was really sent to.

Layout (Exchange 2007 and later, Exchange Online; "Journal report fields" in Microsoft's docs):
a message with the header field ``X-MS-Journal-Report``, ``multipart/mixed``, whose first text part
is the report body, one field per line::

    Sender: alice@contoso.com
    Subject: Budget
    Message-Id: <1234@contoso.com>
    On-Behalf-Of: boss@contoso.com                 (optional)
    To: bob@contoso.com
    Cc: carol@contoso.com
    Bcc: dave@contoso.com
    To: erin@contoso.com, Expanded: team@contoso.com
    Cc: frank@fabrikam.com, Forwarded: gina@contoso.com
    Recipient: hal@contoso.com                     (addressing not verifiable)

and whose ``message/rfc822`` part is the original message, unaltered. The original is taken
byte for byte from the report (base64 or quoted-printable wrapping is undone, nothing else), and
every address in the body counts: the sender, the on-behalf-of sender, each recipient and each
distribution group or forwarding source it came through. Exchange 2003's ``Recipients:`` list
is read too. Anything else (no report body, no attached original, a TNEF-formatted report) is a
malformed report: the drain quarantines it with its bytes and the reason.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass, field
from email.utils import getaddresses

from mailark.storage.mime import _BOUNDARY, _delimiters, field_name, field_value, header_fields, split_header

REPORT_FIELD = b"x-ms-journal-report"
RECIPIENT_KINDS = {"to": "To", "cc": "Cc", "bcc": "Bcc", "recipient": "Recipient"}
REDIRECTIONS = {"expanded": "Expanded", "forwarded": "Forwarded"}
_CTYPE = re.compile(rb"\s*([!-~]+?)/([!-~]+?)\s*(?:;|$)")
_CHARSET = re.compile(rb'charset\s*=\s*"?([A-Za-z0-9_.:-]+)"?', re.IGNORECASE)


class MalformedReport(ValueError):
    """A journal report we cannot read; the text says what is wrong (it becomes the quarantine reason)."""


@dataclass(frozen=True)
class ReportRecipient:
    kind: str  # To | Cc | Bcc | Recipient
    address: str
    redirection: str | None = None  # Expanded | Forwarded
    source: str | None = None  # the group that was expanded, or the recipient that forwarded


@dataclass
class JournalReport:
    original: bytes
    sender: str | None
    subject: str | None
    message_id: str | None
    recipients: list[ReportRecipient] = field(default_factory=list)
    on_behalf_of: list[str] = field(default_factory=list)

    @property
    def addresses(self) -> set[str]:
        """Every address the report names (lower case): all of them may own an archive mailbox."""
        out = {a for a in (self.sender, *self.on_behalf_of) if a}
        for r in self.recipients:
            out.add(r.address)
            if r.source:
                out.add(r.source)
        return {a.lower() for a in out}


def is_journal_report(raw: bytes) -> bool:
    block, _, _ = split_header(raw)
    return any(field_name(f) == REPORT_FIELD for f in header_fields(block))


def _ctype(fields: list[bytes]) -> tuple[bytes, bytes, bytes]:
    """(type/subtype, raw Content-Type value, transfer encoding), lower case."""
    raw = next((field_value(f) for f in fields if field_name(f) == b"content-type"), b"")
    m = _CTYPE.match(raw)
    ctype = (m.group(1) + b"/" + m.group(2)).lower() if m else b"text/plain"
    cte = next((field_value(f) for f in fields if field_name(f) == b"content-transfer-encoding"), b"")
    return ctype, raw, cte.strip().lower()


def _decode_cte(body: bytes, cte: bytes, what: str) -> bytes:
    if cte == b"base64":
        try:
            return base64.b64decode(re.sub(rb"\s+", b"", body), validate=True)
        except (binascii.Error, ValueError):
            raise MalformedReport(f"malformed journal report: the {what} is not valid base64") from None
    if cte == b"quoted-printable":
        return quopri.decodestring(body)
    return body


def _parts(raw: bytes) -> list[tuple[list[bytes], bytes]]:
    """The top-level parts of a multipart message: (header fields, body) each, bytes as they are."""
    block, _, body = split_header(raw)
    fields = header_fields(block)
    ctype, ctype_raw, _ = _ctype(fields)
    if not ctype.startswith(b"multipart/"):
        raise MalformedReport(f"malformed journal report: it is {ctype.decode(errors='replace')}, "
                              f"not multipart with the report and the original message")
    bm = _BOUNDARY.search(ctype_raw)
    if not bm:
        raise MalformedReport("malformed journal report: multipart without a boundary parameter")
    boundary = (bm.group(1) if bm.group(1) is not None else bm.group(2)).rstrip()
    delims = _delimiters(body, boundary)
    if len(delims) < 2:
        raise MalformedReport("malformed journal report: its parts are missing (no boundary lines)")
    parts = []
    for (_, d_end, closing), (nxt, _, _) in zip(delims, delims[1:]):
        if closing:
            break
        end = nxt
        if body[end - 2:end] == b"\r\n":
            end -= 2
        elif body[end - 1:end] == b"\n":
            end -= 1
        data = body[d_end:max(end, d_end)]
        pblock, _, pbody = split_header(data)
        pfields = header_fields(pblock)
        if pfields and not field_name(pfields[0]):
            pfields, pbody = [], data
        parts.append((pfields, pbody))
    return parts


def _address(value: str) -> str | None:
    pairs = [a for _, a in getaddresses([value]) if "@" in a]
    return pairs[0].strip().lower() if pairs else None


def parse_body(text: str) -> tuple[str | None, str | None, str | None, list[ReportRecipient], list[str]]:
    """The report body's fields: sender, subject, message id, recipients, on-behalf-of senders."""
    sender = subject = message_id = None
    recipients: list[ReportRecipient] = []
    on_behalf: list[str] = []
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = name.strip().lower(), value.strip()
        if key == "sender":
            sender = _address(value)
        elif key == "subject":
            subject = value
        elif key == "message-id":
            message_id = value
        elif key == "on-behalf-of":
            if a := _address(value):
                on_behalf.append(a)
        elif key in RECIPIENT_KINDS:
            # "To: member@x, Expanded: group@x": the address, then an optional redirection.
            head, _, rest = value.partition(",")
            addr = _address(head)
            if addr is None:
                continue
            redirection = source = None
            rname, rsep, rvalue = rest.partition(":")
            if rsep and rname.strip().lower() in REDIRECTIONS:
                redirection, source = REDIRECTIONS[rname.strip().lower()], _address(rvalue)
            recipients.append(ReportRecipient(RECIPIENT_KINDS[key], addr, redirection, source))
        elif key == "recipients":  # Exchange 2003: one comma-separated list
            recipients += [ReportRecipient("Recipient", a.lower()) for _, a in getaddresses([value]) if "@" in a]
    return sender, subject, message_id, recipients, on_behalf


def unwrap(raw: bytes) -> JournalReport:
    """The original message (byte-exact) and the report's fields; MalformedReport if it is not one."""
    text: str | None = None
    original: bytes | None = None
    for fields, body in _parts(raw):
        ctype, ctype_raw, cte = _ctype(fields)
        if ctype == b"application/ms-tnef":
            raise MalformedReport("malformed journal report: it is TNEF-formatted; set the Exchange journaling "
                                  "format to MIME (Set-TransportConfig -JournalingReportNdrTo / TNEF off for the endpoint)")
        if ctype.startswith(b"text/") and text is None:
            cm = _CHARSET.search(ctype_raw)
            charset = cm.group(1).decode() if cm else "utf-8"
            data = _decode_cte(body, cte, "report body")
            try:
                text = data.decode(charset)
            except (LookupError, UnicodeDecodeError):
                text = data.decode("utf-8", errors="replace")
        elif ctype == b"message/rfc822" and original is None:
            original = _decode_cte(body, cte, "attached original message")
    if text is None:
        raise MalformedReport("malformed journal report: no report body (the text part listing sender and recipients)")
    if original is None or not original.strip():
        raise MalformedReport("malformed journal report: the original message (message/rfc822 part) is missing")
    first = header_fields(split_header(original)[0])
    if not first or not field_name(first[0]):
        raise MalformedReport("malformed journal report: the attached original is not a message (no header)")
    sender, subject, message_id, recipients, on_behalf = parse_body(text)
    if sender is None and not recipients:
        raise MalformedReport("malformed journal report: the report body names no sender and no recipients")
    if not recipients:
        raise MalformedReport("malformed journal report: the report body lists no recipients")
    return JournalReport(original, sender, subject, message_id, recipients, on_behalf)
