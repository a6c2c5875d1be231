"""Tests of the benchmark mail generator (bench.generate) and the parse baseline (bench.baseline).

The generator drives dedup and compression benchmarks, so these tests pin down what those
benchmarks rely on: the same bytes every run, one Sent and one Inbox copy per internal recipient,
copies that differ only in their transport headers, attachments that decode and that recur
re-wrapped, and memory that does not grow with the number of messages.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.header
import email.message
import email.parser
import email.policy
import email.utils
import hashlib
import re
import tracemalloc
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from bench.baseline import BaselineResult, load_corpus, parse_baseline
from bench.generate import GeneratedCopy, generate_org_mail, main, write_tree

DOMAIN = "example.org"
COMPAT32 = email.policy.compat32
TRANSPORT_FIELDS = {
    b"received", b"return-path", b"delivered-to", b"authentication-results", b"arc-seal",
    b"arc-message-signature", b"arc-authentication-results", b"dkim-signature", b"x-spam-status",
}


def by_message(copies: Iterable[GeneratedCopy]) -> Iterator[list[GeneratedCopy]]:
    """Group the stream into the copies of each message (they come consecutively, Sent first)."""
    group: list[GeneratedCopy] = []
    for c in copies:
        if group and c.message_no != group[0].message_no:
            yield group
            group = []
        group.append(c)
    if group:
        yield group


def fields(raw: bytes) -> tuple[list[bytes], bytes]:
    """Header fields (each with its folded continuation lines) and the body."""
    head, _, body = raw.partition(b"\r\n\r\n")
    return re.split(rb"\r\n(?![ \t])", head), body


def field_name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].lower()


def attachment_parts(msg: email.message.Message) -> Iterator[email.message.Message]:
    for part in msg.walk():
        if (part.get("Content-Disposition") or "").startswith("attachment"):
            yield part


def strict_b64(text: str) -> bytes:
    """Decode base64 strictly: only the alphabet and line ends are allowed."""
    data = text.encode("ascii")
    return base64.b64decode(data.replace(b"\r", b"").replace(b"\n", b""), validate=True)


def wrap_style(text: str) -> tuple[int, str]:
    first = text.split("\n", 1)[0]
    return len(first.rstrip("\r")), "CRLF" if first.endswith("\r") else "LF"


def digest(copies: Iterable[GeneratedCopy]) -> str:
    h = hashlib.sha256()
    for c in copies:
        h.update(f"{c.mailbox}\0{c.folder}\0{c.message_no}\0{len(c.raw)}\0".encode())
        h.update(c.raw)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------


def test_same_arguments_give_identical_bytes_and_a_longer_run_starts_with_the_shorter() -> None:
    first = digest(generate_org_mail(20, 300, seed=7))
    assert first == digest(generate_org_mail(20, 300, seed=7))
    assert first != digest(generate_org_mail(20, 300, seed=8))
    assert digest(c for c in generate_org_mail(20, 300, seed=7) if c.message_no < 120) == \
        digest(generate_org_mail(20, 120, seed=7))


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        generate_org_mail(0, 10)
    with pytest.raises(ValueError):
        generate_org_mail(5, -1)
    assert list(generate_org_mail(5, 0)) == []
    # one user: every recipient is external, so each message is only its Sent copy
    assert {c.folder for c in generate_org_mail(1, 30)} == {"Sent"}


def test_sent_and_inbox_copies_differ_only_in_transport_headers() -> None:
    header_parser = email.parser.BytesHeaderParser(policy=COMPAT32)
    seen = Counter()
    messages = 0
    for copies in by_message(generate_org_mail(30, 800, seed=3)):
        messages += 1
        sent, inbox = copies[0], copies[1:]
        assert sent.folder == "Sent" and all(c.folder == "Inbox" for c in inbox)
        assert sent.mailbox.endswith(f"@{DOMAIN}")
        msg = header_parser.parsebytes(sent.raw)
        assert msg["Received"] is None and msg["Delivered-To"] is None and msg["Return-Path"] is None
        to_cc = [a for _, a in email.utils.getaddresses(msg.get_all("To", []) + msg.get_all("Cc", []))]
        bcc = [a for _, a in email.utils.getaddresses(msg.get_all("Bcc", []))]
        assert 1 <= len(to_cc) <= 9 and len(bcc) <= 2
        everyone = to_cc + bcc
        assert len(set(everyone)) == len(everyone) and sent.mailbox not in everyone
        internal = [a for a in everyone if a.endswith(f"@{DOMAIN}")]
        # one Sent copy plus one Inbox copy per internal recipient, To, Cc and Bcc alike
        assert len(copies) == 1 + len(internal)
        assert sorted(c.mailbox for c in inbox) == sorted(internal)
        seen["recipients"] += len(everyone)
        seen["external"] += len(everyone) - len(internal)
        seen["bcc"] += bool(bcc)
        seen["bcc_copies"] += sum(a.endswith(f"@{DOMAIN}") for a in bcc)

        sent_fields, sent_body = fields(sent.raw)
        without_bcc = [f for f in sent_fields if field_name(f) != b"bcc"]
        assert (len(without_bcc) < len(sent_fields)) == bool(bcc)
        for c in inbox:
            inbox_fields, inbox_body = fields(c.raw)
            assert inbox_body == sent_body  # the same MIME body, boundaries and all
            k = len(inbox_fields) - len(without_bcc)
            assert inbox_fields[k:] == without_bcc  # the client's headers, unchanged, without Bcc
            prefix = inbox_fields[:k]
            names = [field_name(f) for f in prefix]
            assert all(n in TRANSPORT_FIELDS or n.startswith(b"x-ms-exchange-") for n in names), names
            assert 2 <= names.count(b"received") <= 4
            assert names.count(b"delivered-to") == 1 and names.count(b"return-path") == 1
            assert b"authentication-results" in names
            parsed = header_parser.parsebytes(c.raw)
            assert parsed["Delivered-To"] == c.mailbox and parsed["Bcc"] is None
            for n in (b"arc-seal", b"dkim-signature", b"x-ms-exchange-organization-authas"):
                seen[n.decode()] += n in names
        # each Inbox copy has its own transport headers (ids and times per recipient)
        prefixes = [fields(c.raw)[0][: len(fields(c.raw)[0]) - len(without_bcc)] for c in inbox]
        assert len({b"\r\n".join(p) for p in prefixes}) == len(prefixes)

    assert 0.15 < seen["external"] / seen["recipients"] < 0.25
    assert 0.06 < seen["bcc"] / messages < 0.14 and seen["bcc_copies"] > 0
    for n in ("arc-seal", "dkim-signature", "x-ms-exchange-organization-authas"):
        assert seen[n] > 0, n


def test_every_copy_parses_and_every_encoded_part_decodes() -> None:
    seen = Counter()
    for c in generate_org_mail(25, 250, seed=11):
        msg = email.message_from_bytes(c.raw, policy=COMPAT32)
        for key in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"):
            assert msg[key], (key, c.message_no)
        email.utils.parsedate_to_datetime(msg["Date"])
        str(email.header.make_header(email.header.decode_header(msg["Subject"])))
        for part in msg.walk():
            assert not part.defects, (c.message_no, part.defects)
            if part.get_content_maintype() == "multipart":
                continue
            cte = (part.get("Content-Transfer-Encoding") or "7bit").lower()
            seen[cte] += 1
            if cte == "base64":
                strict_b64(part.get_payload())
            elif cte == "quoted-printable":
                binascii.a2b_qp(part.get_payload().encode("ascii"))
            if part.get_content_maintype() == "text" and not part.get_filename():
                charset = part.get_content_charset() or "us-ascii"
                part.get_payload(decode=True).decode(charset)
            if part.get_filename():
                seen["attachment" if part["Content-Disposition"].startswith("attachment") else "inline"] += 1
                assert part.get_content_maintype() != "text" or cte == "base64"
        seen["non-ascii subject"] += "=?" in msg["Subject"]
    assert seen["base64"] and seen["quoted-printable"] and seen["7bit"] and seen["8bit"]
    assert seen["attachment"] and seen["inline"]
    assert seen["non-ascii subject"] > 0


def test_attachments_recur_rewrapped_and_content_is_realistic() -> None:
    styles: dict[str, set[tuple[int, str]]] = defaultdict(set)
    texts: dict[str, set[str]] = defaultdict(set)
    plain = Counter()
    binary = Counter()
    tabular = Counter()
    messages = with_attachments = 0
    for c in generate_org_mail(40, 1200, seed=5):
        if c.folder != "Sent":
            continue
        messages += 1
        msg = email.message_from_bytes(c.raw, policy=COMPAT32)
        attachments = list(attachment_parts(msg))
        with_attachments += bool(attachments)
        for part in attachments:
            text = part.get_payload()
            data = strict_b64(text)
            assert len(data) >= 15_000
            key = hashlib.sha256(data).hexdigest()
            styles[key].add(wrap_style(text))
            texts[key].add(hashlib.sha256(text.encode()).hexdigest())
            ctype = part.get_content_type()
            sample = data[:300_000]
            counter = tabular if ctype.startswith("text/") else binary
            counter["in"] += len(sample)
            counter["out"] += len(zlib.compress(sample, 1))
        for part in msg.walk():
            if part.get_content_type() == "text/plain" and not part.get_filename():
                body = part.get_payload(decode=True)
                plain["in"] += len(body)
                plain["out"] += len(zlib.compress(body, 6))
    assert 0.22 < with_attachments / messages < 0.38
    recurring = [k for k, v in texts.items() if len(v) > 1 or len(styles[k]) > 1]
    rewrapped = [k for k, v in styles.items() if len(v) > 1]
    assert len(recurring) >= 20
    # same decoded bytes, different base64 text: another line length or line ending
    assert len(rewrapped) >= 10
    assert all(len(texts[k]) > 1 for k in rewrapped)
    assert {s for k in rewrapped for s in styles[k]} >= {(76, "CRLF"), (72, "CRLF"), (64, "CRLF"), (76, "LF")}
    # natural-ish text compresses like mail, PDFs/images/OOXML do not, CSV and logs do
    assert plain["out"] / plain["in"] < 0.6
    assert binary["out"] / binary["in"] > 0.9
    assert tabular["out"] / tabular["in"] < 0.5


def test_memory_stays_flat_as_the_message_count_grows() -> None:
    """One traced pass over 4,000 messages, checked at 500 and at the end.

    The peak over a run is set by its largest message (an attachment is held raw, encoded and
    in a copy at once), so the peak may only grow by what a larger message explains; and the
    memory held between messages (pools, tables) must not grow at all. Generation is about three
    times slower under tracemalloc, hence a short run: message k does not depend on
    the run length, so the first 500 messages of this pass are exactly a 500-message run.
    """
    checkpoint, total = 500, 4_000
    tracemalloc.start()
    try:
        held: list[tuple[int, int]] = []
        biggest = biggest_early = 0
        peak_early = 0
        for c in generate_org_mail(50, total, seed=3):
            size = len(c.raw)
            biggest = max(biggest, size)
            if c.folder == "Sent" and c.message_no % 100 == 0:
                no = c.message_no
                del c
                # what the generator holds between messages, less this message's own body
                held.append((no, tracemalloc.get_traced_memory()[0] - size))
                if no == checkpoint:
                    peak_early, biggest_early = tracemalloc.get_traced_memory()[1], biggest
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak_early and biggest_early
    early = max(m for no, m in held if no <= checkpoint)
    late = max(m for no, m in held if no > checkpoint)
    assert late < early + 2_000_000, (early, late)
    assert early < 20_000_000
    mb = 1_000_000
    assert peak < 1.5 * peak_early + 4 * max(0, biggest - biggest_early) + 4 * mb, (peak, peak_early, biggest)
    assert peak < early + 5 * biggest + 8 * mb


def test_write_tree_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copies = list(generate_org_mail(6, 25, seed=2))
    count, size = write_tree(copies, tmp_path / "tree")
    assert count == len(copies) and size == sum(len(c.raw) for c in copies)
    for c in copies:
        assert (tmp_path / "tree" / c.mailbox / c.folder / f"{c.message_no:07d}.eml").read_bytes() == c.raw

    assert main(["--users", "6", "--messages", "25", "--seed", "2", "--out", str(tmp_path / "cli")]) == 0
    out = capsys.readouterr().out
    files = sorted(p for p in (tmp_path / "cli").rglob("*.eml"))
    assert len(files) == len(copies)
    assert f"copies: {len(copies)}" in out and f"bytes: {size}" in out
    assert {p.relative_to(tmp_path / "cli").parts[1] for p in files} == {"Sent", "Inbox"}


def test_parse_baseline_counts_and_times_only_the_parse() -> None:
    raws = [c.raw for c in generate_org_mail(10, 40, seed=1)]
    r = parse_baseline(raws)
    assert isinstance(r, BaselineResult)
    assert r.messages == len(raws) and r.bytes == sum(map(len, raws)) and r.errors == 0
    assert r.seconds > 0
    assert r.messages_per_s == pytest.approx(r.messages / r.seconds)
    assert r.mb_per_s == pytest.approx(r.bytes / 1e6 / r.seconds)
    lazy = parse_baseline(c.raw for c in generate_org_mail(10, 40, seed=1))
    assert (lazy.messages, lazy.bytes) == (r.messages, r.bytes)
    empty = parse_baseline([])
    assert (empty.messages, empty.messages_per_s, empty.mb_per_s) == (0, 0.0, 0.0)


def test_load_corpus_reads_every_regular_file_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / "a.eml").write_bytes(b"A")
    (tmp_path / "b" / "deep" / "c.txt").write_bytes(b"C")
    (tmp_path / "b" / "a.msg").write_bytes(b"B")
    (tmp_path / "link").symlink_to(tmp_path / "a.eml")
    assert load_corpus(tmp_path) == [b"A", b"B", b"C"]


def test_load_corpus_on_the_shared_corpus(corpus: Path) -> None:
    raws = load_corpus(corpus)
    assert len(raws) == sum(1 for p in corpus.rglob("*") if p.is_file() and not p.is_symlink())
    r = parse_baseline(raws)
    assert r.messages == len(raws) and r.bytes == sum(map(len, raws))
