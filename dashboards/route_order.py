"""Hot routes are matched first; /openapi.json keeps the order the routers were included in.

Starlette tries an app's routes in order until one matches, and FastAPI matches an included router by
trying each of its routes: the search router was the 19th, so every search first tried ~100 other
routes (about a sixth of the server's CPU for a cheap search, issue 16). Trying it first changes
which route answers no request, as long as no other route can match its paths (then the first match
is the same in any order): `overlapping` names any that could, and tests/dashboards/test_route_order.py
checks there is none. The API's documentation lists paths in the order the routes are tried, so it
is made from the order they were included, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute


def _belongs(route: BaseRoute, router: APIRouter) -> bool:
    """An app's entry for `router`: the router itself (FastAPI >= 0.150 keeps included routers whole)
    or one of its routes (older FastAPI copies them into the app)."""
    if getattr(route, "original_router", None) is router:
        return True
    endpoint = getattr(route, "endpoint", None)
    return endpoint is not None and any(getattr(r, "endpoint", None) is endpoint for r in router.routes)


def match_first(app: FastAPI, hot: Sequence[APIRouter]) -> None:
    """Try the routes of the `hot` routers before every other route of the app; document them where
    they were included."""
    routes = app.router.routes
    included = list(routes)
    first = [r for r in routes if any(_belongs(r, h) for h in hot)]
    moved = {id(r) for r in first}
    routes[:] = first + [r for r in routes if id(r) not in moved]
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        tried = app.router.routes
        known = {id(r) for r in included}
        present = {id(r) for r in tried}
        app.router.routes = [r for r in included if id(r) in present] + [r for r in tried if id(r) not in known]
        try:
            return generate()
        finally:
            app.router.routes = tried

    app.openapi = openapi  # type: ignore[method-assign]


def overlapping(app: FastAPI, router: APIRouter, sample_paths: Sequence[str]) -> list[str]:
    """Routes of the app, outside `router`, that match (fully or but for the method) one of
    `sample_paths` (concrete paths of the router's routes)."""
    from starlette.routing import Match

    found = []
    for route in app.router.routes:
        if _belongs(route, router):
            continue
        for path in sample_paths:
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                scope = {"type": "http", "path": path, "root_path": "", "method": method, "headers": [],
                         "query_string": b""}
                match, _ = route.matches(scope)
                if match != Match.NONE:
                    found.append(f"{method} {path}: {getattr(route, 'path', route)!r}")
    return found
