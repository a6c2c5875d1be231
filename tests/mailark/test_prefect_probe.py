"""Asking whether the Prefect server is up costs next to nothing when none is: most CLI calls find
no server, and importing httpx and building its TLS context took 0.25-0.3 s of CPU of each."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from mailark.operations.prefect_server import is_up


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_server_is_answered_without_httpx() -> None:
    port = _free_port()
    code = ("import sys; from mailark.operations.prefect_server import is_up; "
            f"print(is_up('http://127.0.0.1:{port}/api'), 'httpx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listening() -> Iterator[int]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield int(srv.server_address[1])
    srv.shutdown()
    srv.server_close()


def test_a_listening_port_is_asked_for_its_health(listening: int) -> None:
    assert is_up(f"http://127.0.0.1:{listening}/api")
    # something else listens there: not a Prefect server
    assert not is_up(f"http://127.0.0.1:{listening}/other")
