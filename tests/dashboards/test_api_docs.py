"""Issue 13: /docs and /redoc come from this install (no CDN), under strict security headers."""

from __future__ import annotations

import re

from tests.dashboards.conftest import Server, client


def test_api_docs_load_nothing_from_elsewhere(server: Server) -> None:
    with client(server) as c:
        for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
            r = c.get(page)
            assert r.status_code == 200, page
            urls = re.findall(r'(?:src|href)="([^"]+)"', r.text) + re.findall(r"url: '([^']+)'", r.text)
            assert urls and all(u.startswith("/") for u in urls), urls
            assert "cdn" not in r.text.lower() and "googleapis" not in r.text
            csp = r.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "unsafe-eval" not in csp and "script-src 'self'" in csp
            inline = re.findall(r"<script>(.*?)</script>", r.text, flags=re.S)
            assert len(re.findall(r"'sha256-", csp)) == len(inline)  # only the page's own inline script runs
            assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
            js = c.get(f"/static/api-docs/{asset}")
            assert js.status_code == 200 and len(js.content) > 100_000
