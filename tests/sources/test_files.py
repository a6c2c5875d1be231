"""Reading mail files for import: format detection, mbox streaming, PST/.msg conversion, walking.

Real corpus files wherever possible (``/work/shared/corpus``, read-only); small hand-made files
in ``tmp_path`` only for the cases no corpus file covers.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tracemalloc
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from mailark.sources.files import SourceMessage, SourceProblem, detect_format, iter_source
from mailark.sources.files.mbox import iter_mbox
from mailark.sources.files.outlook_mime import Kind, convert_item

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("MAILARK_TEST_CORPUS", REPO.parent / "shared" / "corpus"))
MAILBAGIT = CORPUS / "mailbagit"
PST = MAILBAGIT / "outlook2019.pst"
MSG = MAILBAGIT / "digitization-archiving-solutions.msg"
MSG_GERMAN = CORPUS / "mail-parser" / "mail_outlook_1"  # an Outlook .msg without an extension
MBOX_MAILBAGIT = MAILBAGIT / "sample1.mbox"
MIME4J_MBOX_DIR = CORPUS / "mime4j" / "mbox" / "src" / "test" / "resources" / "test-1"
MBOX_MIME4J = MIME4J_MBOX_DIR / "mbox.rlug"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"test corpus missing at {CORPUS}")


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def _separator_lines(path: Path) -> int:
    """``From `` lines at the start of the file or after a blank line (the classic mbox rule)."""
    count = 0
    prev_blank = True
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b"From ") and prev_blank:
                count += 1
            prev_blank = line in (b"\n", b"\r\n")
    return count


# ------------------------------------------------------------------------------------------
# detection


def test_detect_format_by_content_not_name(tmp_path: Path) -> None:
    assert detect_format(PST) == "pst"
    assert detect_format(MSG) == "msg"
    assert detect_format(MSG_GERMAN) == "msg"
    assert detect_format(MBOX_MAILBAGIT) == "mbox"
    assert detect_format(MBOX_MIME4J) == "mbox"
    assert detect_format(CORPUS / "cpython-test_email" / "msg_01.txt") == "eml"
    # mime4j's "*.msg" files are RFC 822 text, not Outlook items
    assert detect_format(CORPUS / "mime4j/core/src/test/resources/testmsgs/basic-plain.msg") == "eml"
    # an obsolete-syntax header "From  : ..." is not an mbox separator
    assert detect_format(CORPUS / "imap_tools/rfc2822/example13.eml") == "eml"
    assert detect_format(MAILBAGIT) == "directory"

    for source, name, expected in [
        (MBOX_MAILBAGIT, "notes.txt", "mbox"),
        (PST, "letter.eml", "pst"),
        (MSG, "mail.mbox", "msg"),
        (CORPUS / "cpython-test_email" / "msg_01.txt", "archive.pst", "eml"),
    ]:
        copy = tmp_path / name
        shutil.copyfile(source, copy)
        assert detect_format(copy) == expected, name
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    assert detect_format(empty) == "eml"


# ------------------------------------------------------------------------------------------
# mbox


@pytest.mark.parametrize("path", [MBOX_MIME4J, MBOX_MAILBAGIT], ids=["mime4j", "mailbagit"])
def test_mbox_message_count_equals_separator_lines(path: Path) -> None:
    items = list(iter_source(path))
    assert len(items) == _separator_lines(path) >= 2
    data = path.read_bytes()
    for number, item in enumerate(items, 1):
        assert isinstance(item, SourceMessage) and item.source == "mbox"
        assert item.folder == path.stem
        m = re.fullmatch(re.escape(path.name) + r"#msg=(\d+)@offset=(\d+)", item.position)
        assert m and int(m.group(1)) == number
        assert data[int(m.group(2)) :].startswith(b"From ")  # the offset is the separator line
        assert not item.raw.startswith(b"From ") and _parse(item.raw)["From"]


def test_mbox_split_matches_mime4j_expected_messages() -> None:
    """mime4j's expected outputs keep the blank line before each separator; we drop exactly it."""
    items = list(iter_mbox(MBOX_MIME4J, folder="x", position="mbox.rlug"))
    assert len(items) == 5
    for n, item in enumerate(items):
        expected = (MIME4J_MBOX_DIR / f"mbox.rlug-{n}").read_bytes()
        assert expected == item.raw + b"\n"


def test_mbox_unescapes_mboxrd_and_keeps_line_ends(tmp_path: Path) -> None:
    for eol in (b"\n", b"\r\n"):
        lines = [
            b"From alice@example.org Mon Jan  1 00:00:00 2024",
            b"From: alice@example.org",
            b"Subject: one",
            b"",
            b">From the start",
            b">>From quoted twice",
            b"> From is not escaped",
            b"From here on, a plain body line (no blank line before it)",
            b"",
            b"From bob@example.org Tue Jan  2 00:00:00 2024",
            b"From: bob@example.org",
            b"Subject: two",
            b"",
            b"last line",
            b"",
        ]
        path = tmp_path / ("crlf" if eol == b"\r\n" else "lf")
        path.write_bytes(eol.join(lines))
        items = list(iter_source(path))
        assert [type(i) for i in items] == [SourceMessage, SourceMessage]
        unescaped = [lines[1], lines[2], lines[3], b"From the start", b">From quoted twice", *lines[6:8]]
        assert items[0].raw == eol.join(unescaped) + eol
        assert b"\nFrom the start" in items[0].raw and b"\n>From quoted twice" in items[0].raw
        assert b"> From is not escaped" in items[0].raw
        assert items[1].raw == eol.join(lines[10:14]) + eol
        assert items[1].position == f"{path.name}#msg=2@offset={len(eol.join(lines[:9]) + eol)}"


def test_mbox_tolerates_missing_blank_line_before_a_real_separator(tmp_path: Path) -> None:
    path = tmp_path / "Inbox"
    path.write_bytes(
        b"From a@example.org Thu Jun 30 12:31:44 +0000 2016\nSubject: a\n\nbody a\n"
        b"From b@example.org  Thu Jul  2 12:05:05 2020\nSubject: b\n\nbody b\n"
        b"From c@example.org Mon Feb  8 02:53:47 PST 1993\nSubject: c\n\nbody c\n"
    )
    items = list(iter_source(path))
    assert [_parse(i.raw)["Subject"] for i in items] == ["a", "b", "c"]
    assert items[0].raw == b"Subject: a\n\nbody a\n"  # nothing stripped: no blank line preceded


def test_mbox_lines_longer_than_the_read_buffer(tmp_path: Path) -> None:
    from mailark.sources.files.mbox import MAX_PIECE

    # a 3 MB line whose second piece starts with something that looks like a separator
    long_line = b"x" * MAX_PIECE + b"From a@example.org Mon Jan  1 00:00:00 2024 " + b"y" * (2 * MAX_PIECE) + b"\n"
    first = b"Subject: long\n\n" + long_line + b"\n>From escaped\n"
    second = b"Subject: next\n\nbody\n"
    path = tmp_path / "long.mbox"
    path.write_bytes(b"From a@example.org Mon Jan  1 00:00:00 2024\n" + first + b"\n"
                     + b"From b@example.org Mon Jan  1 00:00:00 2024\n" + second)
    items = list(iter_source(path))
    assert [i.raw for i in items] == [first.replace(b">From", b"From"), second]


@pytest.mark.parametrize("term", [b"\r", b"\n"])
def test_mbox_long_line_does_not_merge_the_messages_after_it(tmp_path: Path, term: bytes) -> None:
    from mailark.sources.files.mbox import MAX_PIECE

    sep = b"From a@example.org Mon Jan  1 00:00:00 2024" + term
    bodies = [b"Subject: long" + term + term + b"x" * (MAX_PIECE + 1000) + term,
              b"Subject: two" + term + term + b"short" + term,
              b"Subject: three" + term + term + b"last" + term]
    path = tmp_path / "classic-mac.mbox"
    path.write_bytes(term.join(sep + b for b in bodies))
    assert [i.raw for i in iter_source(path)] == bodies


def test_mbox_corpus_files_that_lack_blank_lines_or_use_cr(tmp_path: Path) -> None:
    # sisimai's rhost-cox-01 holds two messages without a blank line between them
    cox = list(iter_source(CORPUS / "sisimai/maildir/bsd/rhost-cox-01.eml"))
    assert len(cox) == 2 and all(_parse(i.raw)["Received"] for i in cox)
    # a classic Mac OS file: CR line ends
    mac = CORPUS / "sisimai/maildir/mac/lhost-ezweb-01.eml"
    (item,) = list(iter_source(mac))
    data = mac.read_bytes()
    assert data.endswith(b"\r\r")  # the final blank line belongs to the mbox format
    assert item.raw == data[data.index(b"\r") + 1 : -1]
    # thunderbird's unquoted "From " body line (no blank line before it) does not split
    assert len(list(iter_source(CORPUS / "thunderbird/mailnews/test/data/mbox_unquoted"))) == 2


def test_large_mbox_streams_with_bounded_memory(tmp_path: Path) -> None:
    """60 MB mbox with a 50 MB message: one message held at a time, handed over without a copy."""
    path = tmp_path / "big.mbox"
    line = b"A" * 998 + b"\n"
    sizes = {}
    with open(path, "wb") as f:
        for name, n_lines in (("small", 10), ("huge", 50 * 1024), ("medium", 9 * 1024)):
            f.write(b"From x@example.org Mon Jan  1 00:00:00 2024\n")
            header = f"Subject: {name}\n\n".encode()
            f.write(header)
            for _ in range(n_lines):
                f.write(line)
            sizes[name] = len(header) + n_lines * len(line)
            f.write(b"\n")
    assert path.stat().st_size > 60_000_000
    seen = {}
    tracemalloc.start()
    try:
        for item in iter_source(path):
            subject = item.raw[9 : item.raw.index(b"\n")].decode()
            seen[subject] = (len(item.raw), hashlib.sha256(item.raw).hexdigest()[:8])
            del item
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert {k: v[0] for k, v in seen.items()} == sizes
    assert peak < 80 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


# ------------------------------------------------------------------------------------------
# Outlook PST


def test_pst_every_item_yields_a_message_with_folder_tree_deterministically() -> None:
    import pypff

    pst = pypff.file()
    pst.open(str(PST))
    expected = 0
    stack = [pst.get_root_folder()]
    while stack:
        fo = stack.pop()
        expected += fo.number_of_sub_messages
        stack.extend(fo.get_sub_folder(i) for i in range(fo.number_of_sub_folders))
    pst.close()

    first = list(iter_source(PST))
    second = list(iter_source(PST))
    assert len(first) == expected == 2
    assert all(isinstance(i, SourceMessage) and i.source == "pst" for i in first)
    assert [i.raw for i in first] == [i.raw for i in second]  # byte-identical on every run
    assert {i.folder for i in first} == {"Inbox/Today at UAlbany"}  # technical root skipped
    assert len({i.position for i in first}) == 2
    assert all(
        re.fullmatch(r"outlook2019\.pst#/Top of Outlook data file/Inbox/Today at UAlbany#id=\d+", i.position)
        for i in first
    )
    subjects = set()
    for item in first:
        msg = _parse(item.raw)
        subjects.add(msg["Subject"])
        assert msg["From"].addresses[0].addr_spec == "tau@albany.edu"
        assert msg["Message-ID"] and msg["Date"].datetime.year == 2021
        assert msg.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
        assert "UAlbany" in msg.get_body(("html",)).get_content()
        assert len(msg.get_all("Content-Type")) == 1  # the original Content-Type was replaced
    assert subjects == {"Today at UAlbany - Focus on Research", "Good Morning - Today at UAlbany"}


def test_pst_with_a_folder_override_and_a_broken_pst(tmp_path: Path) -> None:
    assert {i.folder for i in iter_source(PST, folder="Imported/2021")} == {"Imported/2021"}
    broken = tmp_path / "broken.pst"
    broken.write_bytes(b"!BDN" + b"\x00" * 600)
    (item,) = list(iter_source(broken))
    assert isinstance(item, SourceProblem) and item.source == "pst"
    assert item.raw == broken.read_bytes() and "Outlook data file" in item.reason


# ------------------------------------------------------------------------------------------
# Outlook .msg


def test_msg_conversion_is_deterministic_and_parseable() -> None:
    import extract_msg

    first = list(iter_source(MSG))
    second = list(iter_source(MSG))
    assert len(first) == 1 and isinstance(first[0], SourceMessage)
    assert first[0].raw == second[0].raw
    assert first[0].source == "msg" and first[0].folder == "" and first[0].position == MSG.name

    msg = email.message_from_bytes(first[0].raw)  # the stdlib's default (compat32) parser too
    assert msg["Subject"] == "The Crowley Company - Digitization & Archiving Solutions"
    parsed = _parse(first[0].raw)
    assert parsed["Message-ID"].strip() == "<MN2PR19MB407776A0698BD977B5EE2F3FB3289@MN2PR19MB4077.namprd19.prod.outlook.com>"
    assert not parsed.defects
    # the HTML body was kept only inside the RTF body: it is de-encapsulated
    html = parsed.get_body(("html",)).get_content()
    assert "Crowley" in html and "cid:image001.png" in html
    assert "Matthew McCabe" in parsed.get_body(("plain",)).get_content()

    original = extract_msg.openMsg(str(MSG))
    try:
        wanted = {a.longFilename: a.data for a in original.attachments}
    finally:
        original.close()
    got = {p.get_filename(): p.get_content() for p in parsed.walk() if p.get_filename()}
    assert got == wanted  # every attachment, byte for byte, with its (RFC 2231) name
    inline = [p for p in parsed.walk() if p.get_content_disposition() == "inline"]
    assert [p["Content-ID"] for p in inline] == ["<image001.png@01D81905.3EA3C240>"]


def test_msg_without_extension_and_non_ascii_subject() -> None:
    (item,) = list(iter_source(MSG_GERMAN))
    assert isinstance(item, SourceMessage) and item.source == "msg"
    parsed = _parse(item.raw)
    assert parsed["Subject"] == "Newsletter Prüfung Personalwesen / Prüfung Eröffnungsbilanz"
    assert parsed.get_content_type() == "multipart/related"
    assert len([p for p in parsed.walk() if p.get_content_maintype() == "image"]) == 5


def test_broken_msg_is_a_problem_with_the_file_bytes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.msg"
    bad.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00garbage" * 100)
    truncated = tmp_path / "truncated.msg"
    truncated.write_bytes(MSG.read_bytes()[:4096])
    for path in (bad, truncated):
        (item,) = list(iter_source(path))
        assert isinstance(item, SourceProblem) and item.source == "msg"
        assert item.raw == path.read_bytes() and item.reason


def test_small_msg_bytes_are_never_taken_for_a_file_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # olefile reads bytes under 1536 as a path: the small file's bytes name another Outlook item
    small = bytes.fromhex("D0CF11E0A1B11AE1") + b"-other-item"
    shutil.copyfile(MSG, os.fsdecode(os.fsencode(tmp_path) + b"/" + small))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "small.msg").write_bytes(small)
    monkeypatch.chdir(tmp_path)
    (item,) = list(iter_source(tmp_path / "src" / "small.msg"))
    assert isinstance(item, SourceProblem) and item.raw == small and "unreadable Outlook .msg" in item.reason


def test_outlook_conversion_is_identical_in_another_process() -> None:
    """No hash-seed, time or randomness dependence: a re-import in a new process gives the same bytes."""
    code = (
        "import hashlib, sys; from pathlib import Path; from sources.files import iter_source\n"
        "for p in sys.argv[1:]:\n"
        "    for i in iter_source(Path(p)): print(i.position, hashlib.sha256(i.raw).hexdigest())\n"
    )
    here = [
        f"{i.position} {hashlib.sha256(i.raw).hexdigest()}"
        for p in (PST, MSG, MSG_GERMAN)
        for i in iter_source(p)
    ]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(PST), str(MSG), str(MSG_GERMAN)],
        cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=120,
    ).stdout.splitlines()
    assert out == here


def test_transport_headers_lose_only_the_mime_structure_fields() -> None:
    from mailark.sources.files.outlook_mime import transport_header_fields

    text = (
        "Microsoft Mail Internet Headers Version 2.0\r\n"
        "Received: from a\r\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
        "Subject: hi\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/alternative;\r\n\tboundary=\"x\"\r\n"
        "Content-Language: de-DE\r\n"
        "\r\n"
    )
    fields = transport_header_fields(text)
    assert [n for n, _ in fields] == ["received", "subject", "content-language"]
    assert fields[0][1] == b"Received: from a\r\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"


# ------------------------------------------------------------------------------------------
# The Outlook MIME builder on items without transport headers (sent mail, drafts)


class FakeItem:
    """A hand-made Outlook item: properties by id, like a Sent Items message."""

    def __init__(self, props, recipients=(), attachments=(), data=None, embedded=None):
        self.props, self._recipients, self._attachments = props, recipients, attachments
        self._data, self._embedded = data, embedded

    def get(self, tag: int, kind: Kind):
        value = self.props.get(tag)
        wanted = {Kind.STRING: str, Kind.BINARY: bytes, Kind.TIME: datetime, Kind.INT: int, Kind.BOOL: bool}[kind]
        return value if isinstance(value, wanted) else None

    def recipients(self):
        return self._recipients

    def attachments(self):
        return self._attachments

    def rtf(self):
        return None

    def data(self):
        return self._data

    def embedded(self):
        return self._embedded


def test_outlook_mime_from_properties_only() -> None:
    inner = FakeItem({0x0037: "Inner", 0x1000: "inner body\n", 0x0C1A: "X", 0x5D01: "x@example.org"})
    item = FakeItem(
        {
            0x001A: "IPM.Note",
            0x0037: "\x01\x01Grüße aus Köln – a long subject line that certainly needs folding somewhere",
            0x0039: datetime(2024, 3, 1, 12, 30, 5, 123456, tzinfo=timezone.utc),
            0x0042: "Müller, Jürgen",
            0x5D02: "juergen@example.de",
            0x0C1A: "Müller, Jürgen",
            0x5D01: "juergen@example.de",
            0x1000: "Hallo\nZeile mit = und ünïcödé\n",
            0x1035: "<abc@example.de>",
        },
        recipients=[
            FakeItem({0x0C15: 1, 0x3001: "Anna", 0x39FE: "anna@example.org"}),
            FakeItem({0x0C15: 2, 0x3001: 'Bob "B" Smith', 0x3003: "bob@example.org", 0x3002: "SMTP"}),
            FakeItem({0x0C15: 3, 0x3001: "Exchange Only", 0x3003: "/o=ExchangeLabs/ou=x/cn=y", 0x3002: "EX"}),
        ],
        attachments=[
            FakeItem({0x3705: 1, 0x3707: "Bericht für März – final version with a very long name.pdf",
                      0x370E: "application/pdf"}, data=b"%PDF-1.4\x00\xff" * 50),
            FakeItem({0x3705: 5, 0x3001: "Inner"}, embedded=inner),
        ],
    )
    first, second = convert_item(item), convert_item(item)
    assert first == second and first.warnings == ()
    assert re.search(rb"^Date: Fri, 01 Mar 2024 12:30:05 \+0000\r$", first.raw, re.M)
    assert all(len(line) <= 78 for line in first.raw.split(b"\r\n\r\n")[0].split(b"\r\n"))
    assert first.raw.isascii() and b"\n" not in first.raw.replace(b"\r\n", b"")
    msg = _parse(first.raw)
    assert msg["Subject"] == "Grüße aus Köln – a long subject line that certainly needs folding somewhere"
    assert msg["From"].addresses[0].display_name == "Müller, Jürgen"
    assert [a.addr_spec for a in msg["To"].addresses] == ["anna@example.org"]
    assert msg["Cc"].addresses[0].display_name == 'Bob "B" Smith'
    assert msg["Bcc"].groups[0].display_name == "Exchange Only"  # no internet address: a group
    assert msg["Message-ID"] == "<abc@example.de>" and "Sender" not in msg
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Hallo\nZeile mit = und ünïcödé\n"
    parts = list(msg.iter_attachments())
    assert parts[0].get_filename() == "Bericht für März – final version with a very long name.pdf"
    assert parts[0].get_content() == b"%PDF-1.4\x00\xff" * 50
    assert parts[1].get_content_type() == "message/rfc822"
    assert parts[1].get_content()["Subject"] == "Inner"


def test_outlook_mime_reports_what_it_could_not_carry_over() -> None:
    item = FakeItem({0x0037: "s", 0x1000: "b"}, attachments=[FakeItem({0x3705: 1, 0x3707: "lost.bin"}, data=None)])
    conversion = convert_item(item)
    assert conversion.warnings and "lost.bin" in conversion.warnings[0]
    assert _parse(conversion.raw)["Subject"] == "s"


# ------------------------------------------------------------------------------------------
# walking


def test_walk_whole_corpus_yields_an_item_for_every_file() -> None:
    items = list(iter_source(CORPUS))
    files = []
    for directory, dirs, names in os.walk(CORPUS):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files += [Path(directory) / n for n in names if not n.startswith(".")]
    per_file = Counter(i.origin for i in items)
    assert set(per_file) == set(files)
    for path in files:
        kind = detect_format(path)
        if kind in ("mbox", "pst"):
            assert per_file[path] >= 1, path
        else:
            assert per_file[path] == 1, path
    assert len({i.position for i in items}) == len(items)
    kinds = Counter(i.source for i in items)
    assert kinds["pst"] == 2 and kinds["msg"] == 2 and kinds["mbox"] > 90 and kinds["eml"] > 1400
    assert all(isinstance(i, SourceMessage) for i in items)
    assert [i.position for i in items] == [i.position for i in iter_source(CORPUS)]  # stable order


def test_walk_file_names_that_are_not_utf8(tmp_path: Path) -> None:
    base = os.fsencode(tmp_path)
    with open(base + b"/caf\xe9.eml", "wb") as f:
        f.write(b"Subject: latin-1 name\n\nx\n")
    shutil.copyfile(PST, os.fsdecode(base + b"/\xffbackup.pst"))
    items = list(iter_source(tmp_path))
    assert all(isinstance(i, SourceMessage) for i in items) and len(items) == 3
    positions = [i.position for i in items]
    assert "caf\\xe9.eml" in positions
    assert sum(p.startswith("\\xffbackup.pst#/Top of Outlook data file/") for p in positions) == 2
    for i in items:
        (i.position + i.folder).encode("utf-8")  # storable as text


def test_walk_folders_hidden_symlinks_and_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "outside.eml"
    outside.write_bytes(b"Subject: outside\n\nx\n")
    src = tmp_path / "src"
    (src / "Projects" / "2024").mkdir(parents=True)
    (src / ".hidden").mkdir()
    (src / ".hidden" / "a.eml").write_bytes(b"Subject: hidden\n\n")
    (src / ".DS_Store").write_bytes(b"junk")
    (src / "top.eml").write_bytes(b"Subject: top\n\nbody\n")
    (src / "empty.eml").write_bytes(b"")
    (src / "Projects" / "2024" / "note.txt").write_bytes(b"Subject: deep\n\n")
    shutil.copyfile(MBOX_MAILBAGIT, src / "Projects" / "Archive.mbox")
    (src / "Local.sbd").mkdir()
    shutil.copyfile(MIME4J_MBOX_DIR / "mbox.rlug", src / "Local.sbd" / "Lists")
    shutil.copyfile(MSG, src / "Projects" / "offer.msg")
    (src / "link-out.eml").symlink_to(outside)
    (src / "link-in.eml").symlink_to(src / "top.eml")
    (src / "link-dir").symlink_to(src / "Projects", target_is_directory=True)
    os.mkfifo(src / "pipe")
    unreadable = src / "secret.eml"
    unreadable.write_bytes(b"Subject: secret\n\n")
    unreadable.chmod(0)
    real_open = open

    def deny(file, *args, **kwargs):  # root can read mode-000 files: deny it explicitly
        if Path(file) == unreadable:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", deny)

    items = list(iter_source(src))
    by_position = {i.position: i for i in items}
    assert [i.position for i in items] == [i.position for i in iter_source(src)]
    assert by_position["top.eml"].folder == "" and by_position["top.eml"].raw == b"Subject: top\n\nbody\n"
    assert by_position["empty.eml"].raw == b"" and isinstance(by_position["empty.eml"], SourceMessage)
    assert by_position["link-in.eml"].raw == (src / "top.eml").read_bytes()
    assert by_position["Projects/2024/note.txt"].folder == "Projects/2024"
    assert {i.folder for i in items if i.origin.name == "Archive.mbox"} == {"Projects/Archive"}
    assert {i.folder for i in items if i.origin.name == "Lists"} == {"Local/Lists"}
    assert by_position["Projects/offer.msg"].folder == "Projects"
    assert not any("hidden" in p or "DS_Store" in p or "link-out" in p or "link-dir" in p for p in by_position)
    pipe = by_position["pipe"]
    assert isinstance(pipe, SourceProblem) and pipe.raw == b"" and "regular file" in pipe.reason
    secret = by_position["secret.eml"]
    assert isinstance(secret, SourceProblem) and secret.raw == b"" and "Permission denied" in secret.reason
    assert len(items) == 7 + 2 + 5  # 7 single-item files (incl. pipe and secret) + two mboxes

    overridden = list(iter_source(src, folder="Import"))
    assert {i.folder for i in overridden} == {"Import"}
    assert [i.position for i in overridden] == [i.position for i in items]


def test_a_large_unreadable_pst_says_its_bytes_are_not_kept(tmp_path: Path) -> None:
    from mailark.sources.files.outlook_pst import MAX_WHOLE_FILE_PROBLEM

    path = tmp_path / "broken.pst"
    with open(path, "wb") as f:
        f.write(b"!BDN" + b"\0" * 508)
        f.truncate(MAX_WHOLE_FILE_PROBLEM + 1)  # sparse: no 32 MiB written
    (item,) = list(iter_source(path))
    assert isinstance(item, SourceProblem) and item.raw == b""
    assert f"its {MAX_WHOLE_FILE_PROBLEM + 1} bytes are not kept" in item.reason
