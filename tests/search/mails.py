"""Messages for the search tests, built with the standard library (real MIME, real attachments)."""

from __future__ import annotations

import io
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, UTC


def message(n: int, *, sender: str = "Ann Archer <ann@acme.example>", to: str = "Bob Baker <bob@acme.example>",
            cc: str | None = None, subject: str = "", body: str = "", html: str | None = None,
            date: datetime | None = None, attachments: list[tuple[str, str, bytes]] = ()) -> bytes:  # type: ignore[assignment]
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    if cc:
        m["Cc"] = cc
    m["Subject"] = subject or f"Message number {n}"
    m["Message-ID"] = f"<{n}.search@acme.example>"
    m["Date"] = format_datetime(date or datetime(2024, 1, 1 + n % 28, 10, 0, tzinfo=UTC))
    m.set_content(body or f"Plain body of message {n}.")
    if html is not None:
        m.add_alternative(html, subtype="html")
    for name, ctype, data in attachments:
        maintype, subtype = ctype.split("/", 1)
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return m.as_bytes()


def pdf_with(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


def docx_with(text: str) -> bytes:
    import docx

    d = docx.Document()
    d.add_paragraph(text)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def xlsx_with(*cells: str) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for i, c in enumerate(cells, 1):
        ws.cell(row=i, column=1, value=c)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
