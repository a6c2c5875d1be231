"""Issue 13: search terms never reach the access log (the web app logs the path, not the query string)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.peers import free_port

MAILARK = str(Path(sys.executable).parent / "mailark")


def test_the_access_log_has_the_path_but_not_the_search_terms(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    log = tmp_path / "web.log"
    with log.open("wb") as sink:
        web = subprocess.Popen([MAILARK, "web", "--port", str(port)], stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    r = httpx.get(f"http://127.0.0.1:{port}/api/orgs/acme/search",
                                  params={"q": "merger-with-globex", "page": 1}, timeout=2)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline and web.poll() is None, log.read_text()
                    time.sleep(0.2)
            assert r.status_code in (401, 404)
            time.sleep(0.5)
        finally:
            web.terminate()
            web.wait(20)
    text = log.read_text()
    assert "/api/orgs/acme/search?..." in text, text
    assert "merger-with-globex" not in text
