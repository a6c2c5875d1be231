"""The interactive API documentation, `/docs` (Swagger UI) and `/redoc`, served from this install.

FastAPI's defaults load Swagger UI and ReDoc from a CDN: the machines that run mailark are often
offline, and a page that runs third-party scripts next to the session cookie is a risk. The assets
come from the `fastapi-offline` package instead, and the pages get the same security headers as the
web pages with a Content-Security-Policy that allows only these files and the one inline script
each page needs (by its hash).
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from mailark.dashboards.web.pages import SECURITY_HEADERS

ASSETS = Path(fastapi_offline.__file__).parent / "static"
PREFIX = "/static/api-docs"
HSTS = "max-age=31536000; includeSubDomains"


def _csp(html: str) -> str:
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                      for s in re.findall(r"<script>(.*?)</script>", html, flags=re.S))
    return ("default-src 'none'; " f"script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def _page(html: str, secure: bool) -> HTMLResponse:
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": _csp(html)}
    if secure:
        headers["Strict-Transport-Security"] = HSTS
    return HTMLResponse(html, headers=headers)


def install_api_docs(app: FastAPI, secure: bool) -> None:
    """Call on an app made with docs_url=None, redoc_url=None."""
    app.mount(PREFIX, StaticFiles(directory=str(ASSETS)), name="api-docs")
    openapi = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        html = get_swagger_ui_html(openapi_url=openapi, title="mailark API",
                                   swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{PREFIX}/swagger-ui.css",
                                   swagger_favicon_url=f"{PREFIX}/favicon.png").body.decode()
        return _page(html, secure)

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        html = get_redoc_html(openapi_url=openapi, title="mailark API", redoc_js_url=f"{PREFIX}/redoc.standalone.js",
                              redoc_favicon_url=f"{PREFIX}/favicon.png", with_google_fonts=False).body.decode()
        return _page(html, secure)
