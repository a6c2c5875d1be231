"""A message as a reader sees it: headers, text, sanitized HTML, attachments.

The HTML body is cleaned with nh3 (the Ammonia sanitizer): no scripts, styles, forms, frames or
event handlers, and nothing that a browser would fetch by itself. Images keep only inline
`data:image/...` sources (a remote image is a tracking pixel: its `src` is removed and the count
reported as `blocked_remote`), links keep http(s) and mailto targets and open without a referrer.
Pages that show the HTML should still put it in a sandboxed iframe with a strict CSP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage

import nh3

from mailark.catalog.export_names import neutralize_bidi
from mailark.catalog.search.text import attachment_name, is_attachment, parse, part_text

_LINK_SCHEMES = ("http:", "https:", "mailto:")
_URL_ATTRS = {"href", "src", "cite", "longdesc", "background", "poster", "action", "formaction", "srcset"}


@dataclass
class Attachment:
    index: int  # 1-based position among the message's attachments (the download path uses it)
    filename: str | None
    content_type: str
    size: int


@dataclass
class MessageView:
    headers: list[tuple[str, str]]
    subject: str
    sender: str
    to: str
    cc: str
    date: str
    text: str | None
    html: str | None  # sanitized
    blocked_remote: int  # remote resources removed from the HTML
    attachments: list[Attachment] = field(default_factory=list)


def sanitize_html(html: str) -> tuple[str, int]:
    """Clean HTML with nothing loaded from elsewhere; returns (html, remote resources removed)."""
    blocked = 0

    def keep(tag: str, attr: str, value: str) -> str | None:
        nonlocal blocked
        if attr not in _URL_ATTRS:
            return value
        v = value.strip().lower()
        if attr == "href" and tag in ("a", "area") and v.startswith(_LINK_SCHEMES):
            return value
        if attr == "src" and tag == "img" and v.startswith("data:image/"):
            return value
        if v.startswith(("http:", "https:", "//", "ftp:")):
            blocked += 1
        return None

    cleaned = nh3.clean(html, attribute_filter=keep, link_rel="noopener noreferrer nofollow",
                        url_schemes={"http", "https", "mailto", "data"},
                        clean_content_tags={"script", "style", "title", "head"})
    return cleaned, blocked


def _header_value(msg: EmailMessage, name: str) -> str:
    try:
        return str(msg.get(name, "") or "")
    except Exception:  # noqa: BLE001 - hostile headers read as nothing rather than fail the view
        return ""


def _headers(msg: EmailMessage) -> list[tuple[str, str]]:
    out = []
    for k, v in msg.raw_items():
        try:
            out.append((k, str(msg.policy.header_factory(k, v)) if isinstance(v, str) else str(v)))
        except Exception:  # noqa: BLE001
            out.append((k, str(v)))
    return out


def attachments_of(msg: EmailMessage) -> list[tuple[Attachment, EmailMessage]]:
    out = []
    for part in msg.walk():
        if part.is_multipart() or not is_attachment(part):  # type: ignore[arg-type]
            continue
        data = part.get_payload(decode=True) or b""
        name = attachment_name(part)  # type: ignore[arg-type]
        # shown and offered for download with bidi controls visible: "x\u202efdp.exe" is not a PDF
        out.append((Attachment(len(out) + 1, neutralize_bidi(name) if name else name, part.get_content_type(),  # type: ignore[arg-type]
                               len(data) if isinstance(data, bytes) else 0), part))
    return out


def view(raw: bytes) -> MessageView:
    msg = parse(raw)
    text = html = None
    blocked = 0
    for part in msg.walk():
        if part.is_multipart() or is_attachment(part):  # type: ignore[arg-type]
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and text is None:
            text = part_text(part)  # type: ignore[arg-type]
        elif ctype == "text/html" and html is None:
            html, blocked = sanitize_html(part_text(part))  # type: ignore[arg-type]
    return MessageView(
        headers=_headers(msg), subject=_header_value(msg, "subject"), sender=_header_value(msg, "from"),
        to=_header_value(msg, "to"), cc=_header_value(msg, "cc"), date=_header_value(msg, "date"),
        text=text, html=html, blocked_remote=blocked, attachments=[a for a, _ in attachments_of(msg)],
    )


def attachment(raw: bytes, index: int) -> tuple[Attachment, bytes] | None:
    """The `index`-th attachment (1-based) and its decoded bytes; None if there is none."""
    for att, part in attachments_of(parse(raw)):
        if att.index == index:
            data = part.get_payload(decode=True) or b""
            return att, data if isinstance(data, bytes) else b""
    return None
