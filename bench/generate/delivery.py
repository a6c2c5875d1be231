"""Delivery: what the mail servers prepend to each recipient's Inbox copy.

Received chains (Exchange Online or Postfix/Dovecot, per the recipient's mailbox), Return-Path,
Delivered-To, DKIM/ARC/Authentication-Results and Exchange's organization headers. They differ per
copy (ids, hop times, Bcc marking), which is exactly what makes copies of one message differ.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

from bench.generate.encoding import _fold_b64, _queue_id
from bench.generate.model import Bytes, GeneratedCopy
from bench.generate.organization import _Person
from bench.generate.tokens import _Tokens
from bench.generate.vocabulary import _D2, _N


def _inbox_copies(tok: _Tokens, sender: _Person, to: list[_Person], cc: list[_Person], bcc: list[_Person],
                  t: int, inbox_head: bytes, body: list[Bytes], no: int) -> Iterator[GeneratedCopy]:
    """One Inbox copy per internal To/Cc/Bcc recipient: its own delivery headers, then the message.

    Signature, ARC, submission hop and Exchange network id are drawn once per message, shared by
    its copies; everything else per copy.
    """
    rng = tok.rng
    dkim = _dkim(tok, t) if rng.random() < 0.4 else None
    arc = rng.random() < 0.3
    submission = _submission_received(tok, sender, t)
    network_id = tok.guid()
    for p2_type, people in (("To", to), ("Cc", cc), ("Bcc", bcc)):
        for p in people:
            if p.internal:
                prefix = _transport(tok, sender, p, p2_type, t, dkim, arc, submission, network_id)
                yield GeneratedCopy(p.addr, "Inbox", b"".join([prefix, inbox_head, *body]), no)


def _dkim(tok: _Tokens, t: int) -> str:
    """The sender domain's DKIM signature: one per message, in every Inbox copy that has one."""
    return _fold_b64(
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={tok.domain};\r\n\t"
        f"s=selector{tok.rng.randint(1, 2)}; t={t};\r\n\th=From:To:Subject:Date:Message-ID:"
        f"Content-Type:MIME-Version;\r\n\tbh={tok.b64tok(32)};\r\n\tb=",
        tok.b64tok(256))


def _submission_received(tok: _Tokens, sender: _Person, t: int) -> str:
    """The client's submission hop: the same in every Inbox copy of one message."""
    rng = tok.rng
    if sender.exchange:
        h = tok.hex(16)
        return (f"Received: from {sender.server} ([fe80::{h[0:4]}:{h[4:8]}:{h[8:12]}:{h[12:16]}]) by "
                f"{sender.server}\r\n ([fe80::{h[16:20]}:{h[20:24]}:{h[24:28]}:{h[28:32]}%{rng.randint(3, 7)}])"
                f" with mapi id 15.20.{rng.randint(6000, 7999)}.0{rng.randint(10, 99)}; {tok.date(t, 0)}")
    ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    qid = tok.queue_id()
    return (f"Received: from [192.168.{rng.randint(0, 9)}.{rng.randint(2, 250)}] (unknown [{ip}])\r\n"
            f"\t(Authenticated sender: {sender.addr})\r\n\tby smtp.{tok.domain} (Postfix) with ESMTPSA"
            f" id {qid};\r\n\t{tok.date(t, sender.tz, pad=True)}")


def _transport(tok: _Tokens, sender: _Person, rcpt: _Person, p2: str, t: int, dkim: str | None,
               arc: bool, submission: str, network_id: str) -> bytes:
    """What the recipient's servers prepend to this one Inbox copy (per-recipient ids and times).

    All small random numbers come from one ``randbytes`` call: this runs once per copy.
    """
    rb = tok.rng.randbytes(40)
    hx = rb[16:40].hex()
    d = tok.domain
    t1 = t + rb[0] % 3
    t2 = t1 + rb[1] % 4
    relay = sender.server if sender.exchange else f"mx1.{d}"
    h: list[str] = []
    if rcpt.exchange:
        h += [f"Return-Path: {sender.addr}", f"Delivered-To: {rcpt.addr}",
              f"Received: from {relay} by {rcpt.server} with HTTPS; {tok.date(t2, 0)}"]
        if rb[2] < 128:
            pod, rest = rcpt.server.split(".", 1)
            h.append(f"Received: from {pod[:3]}P{_N[rb[3] % 9 + 1]}{_D2[rb[4] % 100]}CA{hx[:4].upper()}.{rest}"
                     f" (2603:10a6:{hx[4:8]}:{hx[8:10]}::{hx[10:14]}) by {rcpt.server}\r\n"
                     f" (2603:10a6:{hx[14:18]}:{hx[18:20]}::{hx[20:24]}) with Microsoft SMTP Server"
                     f" (version=TLS1_2,\r\n cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.6"
                     f"{_D2[rb[5] % 100]}.0{_N[rb[6] % 90 + 10]}; {tok.date(t1, 0)}")
        h.append(submission)
        h.append(f"Authentication-Results: dkim={'pass' if dkim else 'none'} "
                 f"({'signature was verified' if dkim else 'message not signed'})\r\n header.d={d};dmarc=pass"
                 f" action=none header.from={d};")
    else:
        lmtp = base64.b64encode(rb[24:40]).decode("ascii").rstrip("=")
        h += [f"Return-Path: <{sender.addr}>", f"Delivered-To: {rcpt.addr}",
              f"Received: from mx1.{d}\r\n\tby {rcpt.server} with LMTP\r\n\tid {lmtp}\r\n"
              f"\t(envelope-from <{sender.addr}>)\r\n\tfor <{rcpt.addr}>; {tok.date(t2, rcpt.tz, pad=True)}"]
        if rb[2] < 128:
            h.append(f"Received: from localhost (localhost [127.0.0.1])\r\n\tby mx1.{d} (Postfix) with ESMTP id "
                     f"{_queue_id(rb[4:16])}\r\n\tfor <{rcpt.addr}>; {tok.date(t2, rcpt.tz, pad=True)}")
        h.append(f"Received: from smtp.{d} (smtp.{d} [10.0.0.25])\r\n\t(using TLSv1.3 with cipher "
                 f"TLS_AES_256_GCM_SHA384 (256/256 bits)\r\n\t key-exchange X25519 server-signature RSA-PSS "
                 f"(2048 bits))\r\n\t(No client certificate requested)\r\n\tby mx1.{d} (Postfix) with ESMTPS id "
                 f"{_queue_id(rb[16:28])}\r\n\tfor <{rcpt.addr}>; {tok.date(t1, rcpt.tz, pad=True)}")
        h.append(submission)
        verdict = f"pass (2048-bit key; unprotected) header.d={d} header.i=@{d} header.b={lmtp[:8]}" \
            if dkim else f"none header.d={d}"
        h.append(f"Authentication-Results: mx1.{d};\r\n\tdkim={verdict};\r\n\tdkim-atps=neutral")
        h.append(f"X-Spam-Status: No, score=-{_N[rb[3] % 4]}.{_N[rb[5] % 10]} required=5.0 tests=ALL_TRUSTED,"
                 f"BAYES_00\r\n\tautolearn=ham autolearn_force=no version=3.4.6")
    if arc:
        selector = _N[rb[7] % 9 + 1]
        h.append(_fold_b64(f"ARC-Seal: i=1; a=rsa-sha256; s=arcselector{selector}; d={d}; t={t1};"
                           " cv=none;\r\n\tb=", tok.b64tok(256)))
        h.append(_fold_b64(f"ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d={d};\r\n\ts=arcselector"
                           f"{selector}; t={t1};\r\n\th=From:Date:Subject:Message-ID:Content-Type:"
                           f"MIME-Version;\r\n\tbh={tok.b64tok(32)};\r\n\tb=", tok.b64tok(256)))
        h.append(f"ARC-Authentication-Results: i=1; mx1.{d}; spf=pass smtp.mailfrom={d}; dkim=pass\r\n"
                 f" header.d={d}; dmarc=pass header.from={d}; arc=none")
    if dkim:
        h.append(dkim)
    if rcpt.exchange:
        h += [f"X-MS-Exchange-Organization-ExpirationStartTime: {tok.date(t1, 0)[5:-6]}.{_D2[rb[8] % 100]}"
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
