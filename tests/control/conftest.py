"""Control-plane fixtures: an operator principal and organizations with their first admin."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from mailark.control.orgs import create_org
from mailark.control.principals import Principal, user_principal


@dataclass
class Tenant:
    org: object
    admin: Principal
    admin_password: str


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Production argon2 costs ~0.1 s a hash by design; tests hash a lot, so they use tiny parameters."""
    from argon2 import PasswordHasher

    from mailark.control import auth as control_auth

    monkeypatch.setattr(control_auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    control_auth._dummy_hash.cache_clear()
    yield
    control_auth._dummy_hash.cache_clear()


@pytest.fixture
def op() -> Principal:
    return Principal.deployment_operator()


@pytest.fixture
def tenant(rt):  # type: ignore[no-untyped-def]
    return make_tenant(rt, "acme")


@pytest.fixture
def other(rt):  # type: ignore[no-untyped-def]
    return make_tenant(rt, "globex")


def make_tenant(rt, name: str, **licence) -> Tenant:  # type: ignore[no-untyped-def]
    from mailark.control.models import User
    from sqlalchemy import select

    with rt.session() as s:
        created = create_org(s, name, rt.master_key, **licence)
        admin = s.scalar(select(User).where(User.login == created.admin_login))
        return Tenant(created.org, user_principal(admin), created.admin_password)


@pytest.fixture
def run_cli(home):  # type: ignore[no-untyped-def]
    """The admin CLI in-process: run_cli("alias", "add", ..., code=1) -> the click Result."""
    from typer.testing import CliRunner

    from mailark.cli import app

    runner = CliRunner()

    def run(*args: str, code: int = 0):  # type: ignore[no-untyped-def]
        r = runner.invoke(app, list(args))
        assert r.exit_code == code, (r.stdout, r.stderr, r.exception)
        return r
    return run
