"""`/api/health` and `/api/ready`: what a load balancer asks a web replica, without logging in."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mailark.catalog.search.shipping import Warmup
from mailark.config.settings import Settings
from mailark.dashboards.app import create_app


def test_ready_says_why_not_until_the_search_pull_is_done(home: Settings) -> None:
    app = create_app(home)
    with TestClient(app) as client:
        assert client.get("/api/health").json() == {"status": "ok"}
        assert client.get("/api/ready").status_code == 200
        assert client.get("/api/ready").json() == {"ready": True, "reasons": []}
        warm = Warmup(["an-org"])  # what a replica started with search.shared holds while it pulls
        app.state.search_warmup = warm
        r = client.get("/api/ready")
        assert r.status_code == 503 and r.json()["ready"] is False
        assert r.json()["reasons"] == ["the shared search indexes are still being pulled (search.shared)"]
        warm.done.set()
        assert client.get("/api/ready").status_code == 200


def test_ready_is_503_when_the_control_plane_does_not_answer(home: Settings) -> None:
    app = create_app(home)
    with TestClient(app) as client:
        engine = app.state.mailark.runtime.control.kw["bind"]
        engine.dispose()
        db = home.db_dir / "control.sqlite"
        moved = db.with_name("elsewhere.sqlite")
        db.rename(moved)
        db.mkdir()  # a directory where the database was: sqlite cannot open it
        try:
            r = client.get("/api/ready")
            assert r.status_code == 503
            assert r.json()["reasons"] == ["the control-plane database does not answer"]
            assert client.get("/api/health").status_code == 200  # alive all the same
        finally:
            db.rmdir()
            moved.rename(db)
