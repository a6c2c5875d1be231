"""The web app: `create_app(settings)` builds the FastAPI REST API; `serve(settings)` runs it with uvicorn.

Stateless apart from settings: each request opens its own control-plane session, so any number of
replicas can run behind a load balancer. OpenAPI is published at /openapi.json (docs at /docs).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from mailark.config.settings import Settings
from mailark.control.models import Organization
from mailark.dashboards.api import routers
from mailark.dashboards.api_docs import install_api_docs
from mailark.dashboards.deps import AppContext, lake_storage_used
from mailark.dashboards.errors import install_error_handlers
from mailark.dashboards.route_order import match_first
from mailark.runtime import Runtime, open_runtime

if TYPE_CHECKING:
    from mailark.catalog.search.shipping import Warmup

DESCRIPTION = """\
The REST API of mailark, a multi-tenant email archive.

**Authentication.** `POST /api/auth/login` with `{"login": "name@domain", "password": ..., "totp": ...}`
sets the `mailark_session` cookie (HttpOnly, SameSite=Strict, Secure unless configured off).
Automation uses API tokens instead: `POST /api/auth/tokens` returns a token once; send it as
`Authorization: Bearer mla_...`.

**CSRF.** Logins, and every POST/PUT/PATCH/DELETE authenticated by the session cookie, must carry
the header `X-Requested-With: mailark`; requests with a bearer token need not.

**Tenancy.** Everything of an organization lives under `/api/orgs/{org}`. A principal of another
organization gets 404 for all of it, exactly as if it did not exist; a principal of the organization
whose role does not allow an action gets 403.

**Errors** are JSON `{"error": "..."}` in words for a person: 400 invalid value, 401 not
authenticated, 403 not allowed, 404 not found, 409 conflict or licence full, 422 request does not
match the schema, 429 too many failed logins (see `Retry-After`).
"""


def create_app(
    settings: Settings,
    *,
    secure_cookies: bool | None = None,
    storage_used: Callable[[AppContext, Organization], int] | None = None,
) -> FastAPI:
    """The API for one deployment. `storage_used` replaces the catalogue query (tests, other meters)."""
    runtime = open_runtime(settings)
    runtime.control  # open (and migrate) the control plane now, not in the first request
    secure = settings.web_secure_cookies if secure_cookies is None else secure_cookies
    ctx = AppContext(runtime=runtime, secure_cookies=secure, storage_used=storage_used or lake_storage_used)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        warm = _prewarm_search(runtime) if settings.search.shared else None
        app.state.search_warmup = warm
        # What start-up built (routes, models, the ORM's mappers) lives as long as the process: moved
        # out of the collector's generations, a request's collections no longer scan it.
        gc.collect()
        gc.freeze()
        yield
        gc.unfreeze()  # a process that builds apps again (the tests) must be able to collect this one
        if warm is not None:
            warm.stop()
        runtime.close()

    app = FastAPI(title="mailark", version="1", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.mailark = ctx
    install_api_docs(app, secure)
    install_error_handlers(app)
    for r in routers():
        app.include_router(r)
    install_pages(app)
    from mailark.dashboards.api.search import router as search_router

    match_first(app, [search_router])  # the hot route (issue 16); the docs keep their order
    return app


def _prewarm_search(runtime: Runtime) -> Warmup | None:
    """search.shared: pull every organization's shared index in the background at start-up, so the
    first search of a replica started cold does not wait for the whole index (catalog/search/shipping.py)."""
    from sqlalchemy import select

    from mailark.catalog.search.shipping import prewarm

    with runtime.control() as session:
        org_ids = list(session.scalars(select(Organization.id).order_by(Organization.name)))
    return prewarm(runtime.settings.db_dir, org_ids)


def install_pages(app: FastAPI) -> None:
    """The web pages and their static files (served from the package: the machines are offline)."""
    from pathlib import Path

    from fastapi.staticfiles import StaticFiles

    from mailark.dashboards.web.account import router as account_pages  # tokens, password and TOTP links
    from mailark.dashboards.web.admin import router as admin_pages
    from mailark.dashboards.web.audit_pages import router as audit_pages
    from mailark.dashboards.web.licence import router as licence_pages
    from mailark.dashboards.web.pages import router as pages
    from mailark.dashboards.web.retention_pages import router as retention_pages
    from mailark.dashboards.web.set_password import router as set_password_page  # first-login invitations
    from mailark.dashboards.web.sign_in_pages import router as sign_in_pages
    from mailark.dashboards.web.sources_pages import router as sources_pages

    for router in (pages, admin_pages, sources_pages, account_pages, licence_pages, audit_pages, sign_in_pages,
                   set_password_page, retention_pages):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "web" / "static")), name="static")


class PathOnlyAccessLog(logging.Filter):
    """Access log lines carry the path, never the query string: search terms (`?q=...`) and
    export selections are what people look for in an archive, and logs are not the key room."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?...", *args[3:])
        return True


def serve(settings: Settings, host: str | None = None, port: int | None = None, tls_cert: Path | None = None,
          tls_key: Path | None = None) -> None:
    """Run the API in the foreground until interrupted (what `mailark up` starts as its web process).

    With a certificate and key (arguments, else settings web.tls_cert / web.tls_key) it serves HTTPS;
    a wrong pair raises TlsConfigError before anything listens."""
    import uvicorn

    from mailark.dashboards.tls import check_tls

    tls = check_tls(tls_cert or settings.web.tls_cert, tls_key or settings.web.tls_key)
    logging.getLogger("uvicorn.access").addFilter(PathOnlyAccessLog())
    uvicorn.run(
        create_app(settings),
        host=host or settings.web_host,
        port=port or settings.web_port,
        proxy_headers=True,
        log_level="info",
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
