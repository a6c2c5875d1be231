"""The search route is tried first (issue 16: a search tried ~100 routes before its own), without
changing which route answers any request or the order of /openapi.json."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from mailark.config.settings import Settings
from mailark.dashboards.api import routers
from mailark.dashboards.api.search import router as search_router
from mailark.dashboards.route_order import overlapping


def _app(tmp_path: Path) -> FastAPI:
    from mailark.dashboards.app import create_app

    return create_app(Settings(home=tmp_path, object_store="local", control_url=None, master_key=None,
                               master_key_file=None, prefect_api_url="http://127.0.0.1:9/api"), secure_cookies=False)


def test_the_search_route_is_tried_first_and_no_other_route_matches_its_path(tmp_path: Path) -> None:
    app = _app(tmp_path)
    first = app.router.routes[0]
    assert getattr(first, "original_router", None) is search_router or getattr(first, "path", "").endswith("/search")
    # Then moving it changed nothing but the time: whatever the order, the same route answers.
    assert overlapping(app, search_router, ["/api/orgs/acme/search", "/api/orgs/search/search"]) == []


def test_openapi_lists_the_paths_in_the_order_the_routers_are_included(tmp_path: Path) -> None:
    plain = FastAPI()
    for r in routers():
        plain.include_router(r)
    documented = [p for p in _app(tmp_path).openapi()["paths"] if p.startswith("/api/")]
    assert documented == list(plain.openapi()["paths"])
