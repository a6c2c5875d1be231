"""What one API search costs the web app beyond the search itself: control-plane sessions and trips
to the thread pool (each trip is ~1 ms on a busy 2-core machine; issue 16, p95 under 20 ms)."""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from mailark.config.settings import Settings
from mailark.control.auth import create_token
from mailark.control.models import User
from mailark.control.orgs import create_org
from mailark.control.principals import user_principal


@pytest.fixture()
def app_and_token(tmp_path: Path):  # type: ignore[no-untyped-def]
    from mailark.dashboards.app import create_app

    settings = Settings(home=tmp_path, object_store="local", control_url=None, master_key=None, master_key_file=None,
                        prefect_api_url="http://127.0.0.1:9/api")
    app = create_app(settings, secure_cookies=False)
    rt = app.state.mailark.runtime
    with rt.session() as s:
        created = create_org(s, "cost", rt.master_key, users=2, mailboxes_per_user=2)
    with rt.session() as s:
        user = s.scalar(select(User).where(User.login == created.admin_login))
        user.must_change_password = False
        token = create_token(s, user_principal(user), "t").token
    return app, token, created.admin_login


def test_a_search_opens_two_sessions_and_makes_two_trips_to_the_thread_pool(app_and_token, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app, token, _ = app_and_token
    rt = app.state.mailark.runtime
    sessions, trips = [], []
    control, run_sync = rt.control, anyio.to_thread.run_sync

    def counting_control():  # type: ignore[no-untyped-def]
        sessions.append(1)
        return control()

    async def counting_run_sync(*a, **kw):  # type: ignore[no-untyped-def]
        trips.append(1)
        return await run_sync(*a, **kw)

    with TestClient(app) as c:
        h = {"Authorization": f"Bearer {token}"}
        assert c.get("/api/orgs/cost/search", params={"q": "warmup"}, headers=h).status_code == 200
        monkeypatch.setattr(rt, "control", counting_control)
        monkeypatch.setattr(anyio.to_thread, "run_sync", counting_run_sync)
        r = c.get("/api/orgs/cost/search", params={"q": "invoice"}, headers=h)
        assert r.status_code == 200, r.text
    assert len(sessions) == 2  # the token's check (with the one-time password's) and the request's transaction
    assert len(trips) == 2  # authenticate, the route's work with its commit (a third trip committed, until session 8)


def test_a_token_of_an_account_on_a_one_time_password_still_cannot_search(app_and_token) -> None:  # type: ignore[no-untyped-def]
    app, token, login = app_and_token
    rt = app.state.mailark.runtime
    with rt.session() as s:
        s.scalar(select(User).where(User.login == login)).must_change_password = True
    with TestClient(app) as c:
        r = c.get("/api/orgs/cost/search", params={"q": "invoice"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and "one-time password" in r.json()["error"]


def test_a_search_runs_five_statements_on_the_control_plane(app_and_token) -> None:  # type: ignore[no-untyped-def]
    """The token with its account, the organization with the user and their roles, the mailboxes they
    may read, the audit row (the chain's head moved, the event, the head's hash): each statement cost
    more Python (building it, the ORM) than the database spent on it, and there were ten."""
    from sqlalchemy import event

    app, token, _ = app_and_token
    engine = app.state.mailark.runtime.control.kw["bind"]
    statements: list[str] = []

    def count(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
        statements.append(statement.split(None, 1)[0].upper())

    with TestClient(app) as c:
        h = {"Authorization": f"Bearer {token}"}
        assert c.get("/api/orgs/cost/search", params={"q": "warmup"}, headers=h).status_code == 200
        event.listen(engine, "before_cursor_execute", count)
        try:
            r = c.get("/api/orgs/cost/search", params={"q": "invoice"}, headers=h)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert r.status_code == 200, r.text
    reads = [s for s in statements if s == "SELECT"]
    assert len(reads) == 3, statements  # was 8: the token, the user, its one-time password, the organization, the
    # user again, `active`, the roles, the mailboxes
    assert len(statements) <= 6, statements
