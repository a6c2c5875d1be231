"""IMAP source fixtures: a real Dovecot (tests/peers/dovecot.py), corpus messages, source profiles."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.peers.dovecot import DovecotServer, find_dovecot, remove, start_dovecot

_users = itertools.count(1)


def _need_dovecot() -> None:
    if find_dovecot() is None:
        pytest.skip("dovecot is not installed (scripts/install-test-deps.sh installs dovecot-imapd)")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One server for the session; each test takes fresh users (`imap_user`)."""
    _need_dovecot()
    server = start_dovecot()
    try:
        yield server
    finally:
        remove(server)


@pytest.fixture
def own_dovecot() -> Iterator[DovecotServer]:
    """A server of the test's own, for tests that stop it."""
    _need_dovecot()
    server = start_dovecot()
    try:
        yield server
    finally:
        remove(server)


def new_user(server: DovecotServer, domain: str = "acme") -> str:
    user = f"u{next(_users)}-{id(server) % 10000}@{domain}"
    server.add_user(user, f"pw-{user}")
    return user


@pytest.fixture
def imap_user(dovecot: DovecotServer) -> str:
    return new_user(dovecot)


def crlf(raw: bytes) -> bytes:
    """IMAP carries CRLF lines: what a server stores and returns for an appended message."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.fixture(scope="session")
def messages(corpus: Path) -> list[bytes]:
    """Real corpus messages with distinct Message-IDs and sizes, as an IMAP client would APPEND them."""
    out, seen = [], set()
    for p in sorted((corpus / "cpython-test_email").glob("msg_*.txt")):
        raw = crlf(p.read_bytes())
        if b"\x00" in raw or b"\r\n\r\n" not in raw or raw in seen:
            continue
        seen.add(raw)
        out.append(raw)
    assert len(out) >= 30
    return out


def append(server: DovecotServer, user: str, folder: str, raws: list[bytes]) -> None:
    c = server.client(user)
    try:
        if folder.upper() != "INBOX" and not c.folder_exists(folder):
            c.create_folder(folder)
        for raw in raws:
            c.append(folder, raw)
    finally:
        c.logout()


def make_source(rt, name: str, config: dict[str, Any], secret: dict[str, Any] | None,  # type: ignore[no-untyped-def]
                org: str = "acme") -> str:
    """A profile of organization `org` as its admin would add it; returns its id."""
    from mailark.control.principals import Principal
    from mailark.control.sources import create_source

    with rt.session(write=True) as s:
        v = create_source(s, Principal.deployment_operator(), org, "imap", name, config, secret, rt.master_key,
                          interval_seconds=300)
    return v.id


def account_config(server: DovecotServer, user: str, **extra: Any) -> dict[str, Any]:
    cfg = {"host": server.host, "port": server.imaps_port, "security": "ssl", "ca_file": str(server.cert),
           "username": user, "mailbox": user, "batch_messages": 7}
    cfg.update(extra)
    return cfg


@pytest.fixture
def account(rt, org, dovecot, imap_user):  # type: ignore[no-untyped-def]
    """A source profile for a fresh Dovecot user over IMAPS (trusted through ca_file)."""
    pid = make_source(rt, f"mail-{imap_user}", account_config(dovecot, imap_user),
                      {"password": dovecot.users[imap_user]})
    return pid, imap_user


def items(rt, mailbox: str | None = None) -> list[tuple]:  # type: ignore[type-arg]
    """(folder, copy sha256, source position) of the archived copies, sorted."""
    q = "SELECT folder, copy_sha256, source_position FROM lake.mailbox_items"
    params: list[object] = []
    if mailbox:
        q += " WHERE mailbox = ?"
        params.append(mailbox)
    return sorted(rt.lake.execute(q + " ORDER BY 1, 2", params).fetchall())


def server_shas(server: DovecotServer, user: str, folder: str = "INBOX") -> set[str]:
    """SHA-256 of each message as the server returns it (it may store two APPENDs alike)."""
    import hashlib

    c = server.client(user)
    try:
        c.select_folder(folder, readonly=True)
        got = c.fetch(c.search("ALL"), [b"BODY.PEEK[]"])
    finally:
        c.logout()
    return {hashlib.sha256(d[b"BODY[]"]).hexdigest() for d in got.values()}


def archived_shas(rt) -> list[str]:  # type: ignore[no-untyped-def]
    """SHA-256 of every copy the archive holds: messages and quarantined items (not parseable)."""
    rows = rt.lake.execute("SELECT copy_sha256 FROM lake.mailbox_items UNION ALL SELECT copy_sha256 FROM lake.quarantine")
    return sorted(r[0] for r in rows.fetchall())
