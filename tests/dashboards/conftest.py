"""A real mailark API over HTTP: uvicorn on 127.0.0.1 (a free port) in a thread, against a temp home.

One server for the whole module run (start-up migrates the control plane); tests keep apart by
using organizations of their own (`make_tenant`), so throttling and licences never collide.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from mailark.runtime import Runtime, open_runtime
from mailark.config.settings import Settings
from tests.peers import free_port  # noqa: F401 - also imported from here by tests

CSRF = {"X-Requested-With": "mailark"}


@dataclass
class Server:
    url: str
    settings: Settings
    rt: Runtime  # for setting up state directly through the services
    used_bytes: dict[str, int]  # org name -> storage in use, as the warnings route will see it
    stop: Callable[[], None]


def start_server(home: Path, **app_kw: object) -> Server:
    from mailark.dashboards.app import create_app

    settings = Settings(home=home, object_store="local", control_url=None, master_key=None, master_key_file=None,
                        prefect_api_url="http://127.0.0.1:9/api")
    used: dict[str, int] = {}
    app = create_app(settings, storage_used=lambda ctx, org: used.get(org.name, 0), **app_kw)  # type: ignore[arg-type]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    rt = open_runtime(settings)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)
        rt.close()

    return Server(f"http://127.0.0.1:{port}", settings, rt, used, stop)


@pytest.fixture(scope="session")
def cheap_argon2() -> Iterator[None]:
    """Production argon2 costs ~0.1 s a hash by design; tests hash a lot, so they use tiny parameters."""
    from argon2 import PasswordHasher

    from mailark.control import auth as control_auth

    mp = pytest.MonkeyPatch()
    mp.setattr(control_auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    control_auth._dummy_hash.cache_clear()
    yield
    mp.undo()
    control_auth._dummy_hash.cache_clear()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, cheap_argon2: None) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("api") / "home", secure_cookies=False)
    yield srv
    srv.stop()


OPERATOR_PASSWORD = "operator-password-1"


@pytest.fixture(scope="session")
def operator_token(server: Server) -> str:
    """An MSP operator serving every organization, with an API token."""
    from mailark.control.auth import create_operator
    from mailark.control.principals import Principal

    with server.rt.session() as s:
        create_operator(s, Principal.deployment_operator(), "msp", password=OPERATOR_PASSWORD)
    return login_token(server, "msp", OPERATOR_PASSWORD)


def client(server: Server, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def login_token(server: Server, login: str, password: str, totp: str | None = None, *,
                new_password: str | None = None) -> str:
    """Log in (cookie), replace a one-time password with `new_password`, then make an API token."""
    with client(server) as c:
        r = c.post("/api/auth/login", json={"login": login, "password": password, "totp": totp}, headers=CSRF)
        assert r.status_code == 200, r.text
        if new_password is not None:
            assert r.json()["must_change_password"]
            r = c.post("/api/auth/password", json={"old_password": password, "new_password": new_password},
                       headers=CSRF)
            assert r.status_code == 200, r.text
        r = c.post("/api/auth/tokens", json={"name": "tests"}, headers=CSRF)
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


@dataclass
class Tenant:
    name: str
    admin: str
    password: str
    token: str  # the admin's API token


_names = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


@pytest.fixture
def make_tenant(server: Server, operator_token: str) -> Callable[..., Tenant]:
    """An organization created through the API by the operator; its admin's password is set and a token made."""

    def make(prefix: str = "org", **licence: object) -> Tenant:
        name = unique(prefix)
        with client(server, operator_token) as op:
            r = op.post("/api/orgs", json={"name": name, **licence})
            assert r.status_code == 201, r.text
            body = r.json()
        password = "admin-password-" + name
        token = login_token(server, body["admin_login"], body["admin_password"], new_password=password)
        return Tenant(name, body["admin_login"], password, token)

    return make


def add_user(server: Server, t: Tenant, local: str, *, roles: list[str] = (), with_mailbox: bool = False,  # type: ignore[assignment]
             password: str | None = None) -> tuple[str, str]:
    """A user of `t` with a known password; returns (login, API token)."""
    login, password = f"{local}@{t.name}", password or f"pw-{local}-{t.name}-long"
    with client(server, t.token) as c:
        r = c.post(f"/api/orgs/{t.name}/users", json={"login": login, "password": password, "roles": list(roles),
                                                      "with_mailbox": with_mailbox})
        assert r.status_code == 201, r.text
    return login, login_token(server, login, password)
