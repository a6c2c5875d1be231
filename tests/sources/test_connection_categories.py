"""Issue 13: a connection test says what kind of failure it met, never what the remote sent back
(pointing a source at some internal service must not become a way to read that service)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

SECRET = b"internal-secret-token-4711"


@pytest.fixture
def chatty_service() -> Iterator[int]:
    """A TCP service on loopback that answers every connection with bytes holding a secret."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Token: " + SECRET + b"\r\n\r\n" + SECRET + b"\r\n")
                    conn.settimeout(1)
                    conn.recv(4096)
                except OSError:
                    pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(2)
    srv.close()


def test_imap_and_ldap_tests_report_a_category_only(rt, chatty_service: int) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.orgs import create_org
    from mailark.control.principals import Principal
    from mailark.control.sources import create_source
    from mailark.sources.kinds import test_source

    op = Principal.deployment_operator()
    with rt.session() as s:
        create_org(s, "acme", rt.master_key)
        create_source(s, op, "acme", "imap", "probe", {"host": "127.0.0.1", "port": chatty_service, "security": "plain",
                                                       "username": "ann", "mailbox": "ann@acme"},
                      {"password": "x" * 12}, rt.master_key)
    with rt.session() as s:
        ok, message = test_source(s, op, "acme", "probe", rt.master_key)
    assert not ok and SECRET.decode() not in message and "HTTP" not in message
    assert message.startswith(("not an IMAP server", "refused", "timed out")), message

    from mailark.sources.directory.ldap import connect

    with pytest.raises(Exception) as raised:
        connect({"url": f"ldap://127.0.0.1:{chatty_service}", "security": "none", "timeout": 2}, "cn=x", "pw")
    from mailark.sources.errors import SourceError
    from mailark.sources.kinds import failure_category

    assert isinstance(raised.value, SourceError)  # never a KeyError from ldap3
    assert SECRET.decode() not in failure_category(str(raised.value), "ldap")
