"""Attachments: specs are remembered, bytes are rebuilt on demand.

PDF, OOXML (docx/xlsx/pptx), JPEG, PNG, CSV and text files whose bulk is incompressible
(a ChaCha20 key stream keyed by seed and index), so compression figures stay honest.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zipfile
import zlib
from dataclasses import dataclass
from itertools import chain, repeat

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from bench.generate.encoding import _lognormal_size
from bench.generate.text import _fill
from bench.generate.vocabulary import (
    _CSV_DATES,
    _D2,
    _EN_WORDS,
    _FILENAMES,
    _FIRST_NAMES,
    _KINDS,
    _LAST_NAMES,
    _LEGAL_SUFFIX,
    _LOG_CLOCK,
    _N,
    _SMALL_INTS,
    _TOPIC_TOKENS,
    _ZIP_TIME,
)


@dataclass(frozen=True)
class _Attachment:
    """What is needed to rebuild an attachment's bytes: its pool index identifies the content."""

    index: int
    kind: str
    filename: str
    size: int


def _new_attachment(rng: random.Random, index: int, lang: str, t: int) -> _Attachment:
    """A new attachment's spec: kind by share of real mail, size log-normal per kind (now and then
    a huge one), a file name in the sender's language; ``index`` makes its content unique."""
    kinds = [k[0] for k in _KINDS]
    kind = rng.choices(kinds, [k[1] for k in _KINDS])[0]
    spec = next(k for k in _KINDS if k[0] == kind)
    if rng.random() < 0.001:
        size = rng.randint(5_000_000, 15_000_000)
    else:
        size = _lognormal_size(rng, spec[3], spec[4], 20_000, 5_000_000)
    names = _FILENAMES[kind]
    name = rng.choice(names if lang != "en" else [n for n in names if n.isascii()] or names)
    name = _fill(rng, name.replace("{topic}", rng.choice(_TOPIC_TOKENS)), t)
    return _Attachment(index=index, kind=kind, filename=name, size=size)


class _Bulk:
    """Deterministic incompressible bytes for one attachment (a ChaCha20 key stream, no secrecy)."""

    def __init__(self, seed: int, index: int) -> None:
        key = hashlib.sha256(f"mailark-bench:{seed}:{index}".encode()).digest()
        self._enc = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()

    def take(self, n: int) -> bytes:
        return self._enc.update(bytes(max(0, n)))


def _attachment_bytes(seed: int, att: _Attachment) -> bytes:
    """Rebuild an attachment's content; identical for the same (seed, index) every time."""
    rng = random.Random(f"{seed}:att:{att.index}")
    bulk = _Bulk(seed, att.index)
    builder = {
        "pdf": _pdf, "docx": _ooxml, "xlsx": _ooxml, "pptx": _ooxml, "jpeg": _jpeg, "png": _png,
        "csv": _csv, "txt": _txt,
    }[att.kind]
    return builder(rng, bulk, att.size, att.kind)


def _pdf(rng: random.Random, bulk: _Bulk, size: int, kind: str) -> bytes:
    """A structurally plausible PDF: text objects, an xref table, and Flate streams (random bytes)."""
    out = bytearray(b"%PDF-1.7\r\n%\xb5\xb5\xb5\xb5\r\n")
    offsets: list[int] = []
    pages = min(200, max(1, size // 40_000))
    font_len = min(size // 4, rng.randint(15_000, 45_000))
    per_page = max(200, (size - font_len - 1200 - pages * 160) // pages)
    first_page = 7
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(pages))

    def obj(body: bytes) -> None:
        offsets.append(len(out))
        out.extend(f"{len(offsets)} 0 obj\r\n".encode())
        out.extend(body)
        out.extend(b"\r\nendobj\r\n")

    def stream(data: bytes, extra: str = "") -> bytes:
        return (f"<</Filter/FlateDecode/Length {len(data)}{extra}>>stream\r\n".encode() + data
                + b"\r\nendstream")

    obj(b"<</Type/Catalog/Pages 2 0 R/Lang(en-US)>>")
    obj(f"<</Type/Pages/Count {pages}/Kids[ {kids}] >>".encode())
    obj(b"<</Type/Font/Subtype/TrueType/Name/F1/BaseFont/ABCDEE+Calibri/Encoding/WinAnsiEncoding"
        b"/FontDescriptor 4 0 R/FirstChar 32/LastChar 122>>")
    obj(b"<</Type/FontDescriptor/FontName/ABCDEE+Calibri/Flags 32/ItalicAngle 0/Ascent 750"
        b"/Descent -250/CapHeight 750/AvgWidth 521/MaxWidth 1743/FontWeight 400/StemV 52"
        b"/FontBBox[ -503 -250 1240 750] /FontFile2 5 0 R>>")
    obj(stream(bulk.take(font_len), f"/Length1 {font_len * 2}"))
    year = rng.randint(2019, 2024)
    obj(f"<</Author(Office User)/Creator(Microsoft\xae Word for Microsoft 365)/CreationDate(D:{year}"
        f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(8, 18):02d}{rng.randint(0, 59):02d}"
        f"00+01'00')/Producer(Microsoft\xae Word for Microsoft 365)>>".encode("latin-1"))
    for i in range(pages):
        obj(f"<</Type/Page/Parent 2 0 R/Resources<</Font<</F1 3 0 R>>/ProcSet[/PDF/Text]>>"
            f"/MediaBox[ 0 0 595.32 841.92] /Contents {first_page + 2 * i + 1} 0 R/Group<</Type/Group"
            f"/S/Transparency/CS/DeviceRGB>>/Tabs/S/StructParents {i}>>".encode())
        obj(stream(bulk.take(per_page)))
    xref = len(out)
    out.extend(f"xref\r\n0 {len(offsets) + 1}\r\n0000000000 65535 f\r\n".encode())
    out.extend("".join(f"{o:010d} 00000 n\r\n" for o in offsets).encode())
    doc_id = rng.randbytes(16).hex().upper()
    out.extend(f"trailer\r\n<</Size {len(offsets) + 1}/Root 1 0 R/Info 6 0 R/ID[<{doc_id}><{doc_id}>] >>"
               f"\r\nstartxref\r\n{xref}\r\n%%EOF\r\n".encode())
    return bytes(out)


def _words_xml(rng: random.Random, n: int) -> str:
    return " ".join([_EN_WORDS[i % len(_EN_WORDS)] for i in rng.randbytes(n)])


def _ooxml(rng: random.Random, bulk: _Bulk, size: int, kind: str) -> bytes:
    """A real OOXML zip (opens as a zip): deflated XML parts plus a stored media file for the bulk."""
    part, media, main_ct = {
        "docx": ("word/document.xml", "word/media/image1.png",
                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
        "xlsx": ("xl/worksheets/sheet1.xml", "xl/media/image1.png",
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"),
        "pptx": ("ppt/slides/slide1.xml", "ppt/media/image1.jpeg",
                 "application/vnd.openxmlformats-officedocument.presentationml.slide+xml"),
    }[kind]
    if kind == "xlsx":
        n = min(400, size // 200 + 2)
        rb = rng.randbytes(4 * n)
        row = ('<row r="%s" spans="1:3" x14ac:dyDescent="0.25"><c r="A%s"><v>%s%s</v></c><c r="B%s" s="1">'
               '<v>%s.%s</v></c><c r="C%s" t="s"><v>%s</v></c></row>')
        ids = _N[1 : n + 1]
        cols = (ids, ids, [_N[x] for x in rb[0::4]], [_D2[x % 100] for x in rb[1::4]], ids,
                [_N[x] for x in rb[2::4]], [_D2[x % 100] for x in rb[3::4]], ids, [_N[x % 40] for x in rb[0::4]])
        rows = (row * n) % tuple(chain.from_iterable(zip(*cols)))
        body = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                f"<sheetData>{rows}</sheetData></worksheet>")
    else:
        paras = "".join(
            f'<w:p w14:paraId="{rng.getrandbits(32):08X}" w14:textId="77777777" w:rsidR="00A1{i % 97:02d}3C">'
            '<w:pPr><w:spacing w:after="160" w:line="259" w:lineRule="auto"/></w:pPr><w:r><w:rPr>'
            '<w:rFonts w:ascii="Calibri" w:hAnsi="Calibri"/><w:lang w:val="en-US"/></w:rPr>'
            f"<w:t>{_words_xml(rng, 40)}</w:t></w:r></w:p>"
            for i in range(min(30, size // 8000 + 3)))
        body = ('<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                f"<w:body>{paras}</w:body></w:document>")
    types = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<Types xmlns="http://schemas.'
             'openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="'
             'application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
             'ContentType="application/xml"/><Default Extension="png" ContentType="image/png"/>'
             f'<Default Extension="jpeg" ContentType="image/jpeg"/><Override PartName="/{part}" '
             f'ContentType="{main_ct}"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<Relationships xmlns="http://'
            'schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            f'Target="{part}"/></Relationships>')
    core = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<cp:coreProperties xmlns:cp="http:'
            '//schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org'
            f'/dc/elements/1.1/"><dc:creator>{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}'
            f'</dc:creator><cp:revision>{rng.randint(1, 40)}</cp:revision></cp:coreProperties>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, deflate in (("[Content_Types].xml", types, True), ("_rels/.rels", rels, True),
                                    ("docProps/core.xml", core, True), (part, body, True)):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            z.writestr(info, data)
        info = zipfile.ZipInfo(media, date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_STORED
        z.writestr(info, bulk.take(size - buf.tell() - 600))
    return buf.getvalue()


def _jpeg(rng: random.Random, bulk: _Bulk, size: int, kind: str) -> bytes:
    """JFIF/Exif headers, quantisation and Huffman tables, byte-stuffed entropy data (random)."""
    w, h = rng.choice(((4032, 3024), (1920, 1080), (1280, 960), (3264, 2448), (800, 600)))
    make = rng.choice((b"Apple\0iPhone 13\0", b"samsung\0SM-G991B\0", b"Canon\0EOS 80D\0"))
    exif = b"Exif\0\0MM\0*\0\0\0\x08" + make + rng.randbytes(180)
    head = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00"
            + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
            + b"\xff\xdb\x00\x84\x00" + rng.randbytes(64) + b"\x01" + rng.randbytes(64)
            + b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", h, w) + b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
            + b"\xff\xc4\x01\xa2" + rng.randbytes(416)
            + b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00")
    data = bulk.take(size - len(head) - 2 - size // 256).replace(b"\xff", b"\xff\x00")
    return head + data + b"\xff\xd9"


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _png(rng: random.Random, bulk: _Bulk, size: int, kind: str) -> bytes:
    """PNG signature, IHDR/sRGB/pHYs, 64 KiB IDAT chunks of (random) deflate data, IEND."""
    w, h = rng.choice(((1920, 1080), (2560, 1440), (1366, 768), (800, 600), (1024, 512)))
    parts = [b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)),
             _png_chunk(b"sRGB", b"\0"), _png_chunk(b"pHYs", struct.pack(">IIB", 3779, 3779, 1))]
    data = b"\x78\x9c" + bulk.take(size - 80)
    for i in range(0, len(data), 65536):
        parts.append(_png_chunk(b"IDAT", data[i : i + 65536]))
    parts.append(_png_chunk(b"IEND", b""))
    return b"".join(parts)


def _csv(rng: random.Random, bulk: _Bulk, size: int, kind: str) -> bytes:
    """A semicolon CSV export (as German Excel writes it): compressible like real exports.

    Columns come from strided slices of random bytes and lookup tables, and rows are filled by one
    ``%`` format per batch: no objects are made per row or field, which keeps big exports (and
    tracemalloc-traced runs) fast.
    """
    header = "Datum;Belegnummer;Kunde;Betrag;Währung;Region;Status\r\n"
    regions = ("Nord", "Süd", "West", "Ost", "EMEA", "APAC")
    status = ("bezahlt", "offen", "überfällig", "storniert")
    customers = [f"{rng.choice(_LAST_NAMES)} {rng.choice(_LEGAL_SUFFIX)}" for _ in range(64)]
    block = rng.randint(100, 899)
    row = "%s;RE-%s%s%s;%s;%s%s,%s;EUR;%s;%s\r\n"
    out = [header]
    total = len(header)
    while total < size:
        count = max(1, min(4096, (size - total) // 55))
        r = rng.randbytes(8 * count)
        ids = _SMALL_INTS[:count]
        columns = ([_CSV_DATES[x] for x in r[0::8]], repeat(_N[block], count), [_D2[i // 100] for i in ids],
                   [_D2[i % 100] for i in ids], [customers[x % 64] for x in r[2::8]], [_N[x] for x in r[3::8]],
                   [_N[x % 10] for x in r[4::8]], [_D2[x % 100] for x in r[5::8]],
                   [regions[x % 6] for x in r[6::8]], [status[x % 4] for x in r[7::8]])
        chunk = (row * count) % tuple(chain.from_iterable(zip(*columns)))
        out.append(chunk)
        total += len(chunk)
        block = block + 1 if block < 999 else 100
    return "".join(out).encode("utf-8")


def _txt(rng: random.Random, bulk: _Bulk, size: int, kind: str) -> bytes:
    """An application log: repetitive lines with varying numbers, as people attach them."""
    levels = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR", "INFO", "INFO")
    msgs = ("Processed batch %s%s in %s ms", "Connection to db-%s%s established (pool %s)",
            "Retrying request %s%s (%s)", "User user%s%s logged in from 10.0.4.%s",
            "Cache miss for key order:%s%s%s", "Job %s%s finished with status %s",
            "Timeout after %s%s ms while calling service-%s", "Queue depth %s%s on shard %s")
    lines = [f"%s%s,%s%s %s [worker-%s] {m}\r\n" for m in msgs]
    stamp = f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:"
    out: list[str] = []
    total = 0
    t = rng.randint(0, 3000)
    while total < size:
        count = max(1, min(4096, (size - total) // 70))
        r = rng.randbytes(6 * count)
        clock = _LOG_CLOCK[t % 3000 : t % 3000 + 600]
        kinds = r[3::6]
        columns = (repeat(stamp, count), [clock[x % 600] for x in sorted(r[0::6])], [_D2[x % 100] for x in r[1::6]],
                   [_N[x % 10] for x in r[0::6]], [levels[x % 8] for x in r[2::6]], [_N[x % 8 + 1] for x in r[2::6]],
                   [_N[x] for x in r[4::6]], [_D2[x % 100] for x in r[5::6]], [_N[x] for x in kinds])
        chunk = "".join([lines[x % 8] for x in kinds]) % tuple(chain.from_iterable(zip(*columns)))
        out.append(chunk)
        total += len(chunk)
        t += 600
    return "".join(out).encode("ascii")
