"""Helpers for the web-page tests: a logged-in page client, the form token, archived test mail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.dashboards.conftest import Server

TOKEN = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@contextmanager
def page_client(server: Server, login: str | None = None, password: str | None = None, totp: str | None = None
                ) -> Iterator[httpx.Client]:
    """A browser-like client (cookies, no redirects followed); logged in through the login form when asked."""
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as c:
        if login is not None:
            r = c.post("/login", data={"login": login, "password": password or "", "totp": totp or ""})
            assert r.status_code == 303, r.text
        yield c


def form_token(c: httpx.Client, path: str) -> str:
    r = c.get(path)
    assert r.status_code == 200, r.text
    m = TOKEN.search(r.text)
    assert m, "no form token on the page"
    return m.group(1)
