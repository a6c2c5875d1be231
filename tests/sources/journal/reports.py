"""Exchange envelope journal reports made here from corpus messages (no public corpus of them exists).

The layout follows Microsoft's documentation of journal reports (Exchange 2010+/Exchange Online):
an ``X-MS-Journal-Report`` header, multipart/mixed, a text/plain report body with one field per
line (Sender, Subject, Message-Id, To/Cc/Bcc/Recipient with optional ", Expanded: group" or
", Forwarded: address"), then the original message unaltered as a message/rfc822 part.
"""

from __future__ import annotations

import re
from pathlib import Path

BOUNDARY = "_000_journalreport_AM0PR01MB0001eurprd01prodoutlook_"


def crlf(raw: bytes) -> bytes:
    """Line endings as SMTP carries them, ending with a line break (what any MTA sends)."""
    raw = re.sub(rb"\r?\n", b"\r\n", raw)
    return raw if raw.endswith(b"\r\n") else raw + b"\r\n"


def corpus_message(corpus: Path, rel: str) -> bytes:
    return crlf((corpus / rel).read_bytes())


def make_report(original: bytes, body_lines: list[str], *, to: str = "journal@acme.journal.localhost",
                encode_body: str = "7bit", original_cte: str | None = None) -> bytes:
    body = "\r\n".join(body_lines) + "\r\n"
    if encode_body == "base64":
        import base64

        body_bytes = base64.encodebytes(body.encode()).replace(b"\n", b"\r\n")
    else:
        body_bytes = body.encode()
    if original_cte == "base64":
        import base64

        orig_part = (b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                     + base64.encodebytes(original).replace(b"\n", b"\r\n"))
    else:
        orig_part = b"Content-Type: message/rfc822\r\n\r\n" + original
    head = (
        "X-MS-Journal-Report: \r\n"
        "From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.onmicrosoft.com>\r\n"
        f"To: {to}\r\n"
        "Subject: journal report\r\n"
        "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
        "Message-ID: <journal-0001@AM0PR01MB0001.eurprd01.prod.outlook.com>\r\n"
        "MIME-Version: 1.0\r\n"
        "X-MS-Exchange-Organization-Journal-Report: \r\n"
        f'Content-Type: multipart/mixed; boundary="{BOUNDARY}"\r\n'
        "\r\n"
    ).encode()
    b = BOUNDARY.encode()
    return (
        head + b"--" + b + b"\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n"
        + f"Content-Transfer-Encoding: {encode_body}\r\n\r\n".encode() + body_bytes
        + b"\r\n--" + b + b"\r\n" + orig_part + b"\r\n--" + b + b"--\r\n"
    )
