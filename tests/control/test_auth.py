"""Passwords, throttling and lockout, TOTP, API tokens, web sessions, operators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select, text

from mailark.control import auth
from mailark.control import identity as idn
from mailark.control.models import AuditEvent, Operator, User
from mailark.control.orgs import AuthFailed, Forbidden, NotFound
from mailark.control.principals import ADMIN, Principal

PW = "correct horse battery staple"


@pytest.fixture
def ann(rt, tenant):  # type: ignore[no-untyped-def]
    with rt.session() as s:
        idn.create_user(s, tenant.admin, "acme", "ann@acme", password=PW)
    return "ann@acme"


def _login(rt, login, password, code=None, now=None):  # type: ignore[no-untyped-def]
    with rt.session() as s:  # committed even when the attempt fails
        return auth.login(s, rt.master_key, login, password, code, now=now)


def test_production_hasher_is_argon2id_with_real_cost() -> None:
    from argon2 import Type

    from mailark.control import auth as control_auth

    h = control_auth.production_hasher()  # what control.auth uses outside the tests (a fixture swaps it)
    assert (h.type, h.time_cost, h.memory_cost) == (Type.ID, 3, 65536)
    assert control_auth.verify_password(h.hash("a long password"), "a long password")


def test_password_stored_as_argon2_and_login(rt, ann) -> None:  # type: ignore[no-untyped-def]
    with rt.control() as s:
        stored = s.scalar(select(User.password_hash).where(User.login == ann))
    assert stored.startswith("$argon2id$") and PW not in stored
    r = _login(rt, "ANN@acme ", PW)
    assert r.ok and r.principal.login == "ann@acme" and not r.must_change_password
    assert not _login(rt, ann, "wrong password!!").ok
    with pytest.raises(AuthFailed, match="wrong login, password or code"):
        _login(rt, ann, "wrong password!!").require()


def test_first_admin_one_time_password_must_be_changed(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    r = _login(rt, "admin@acme", tenant.admin_password)
    assert r.ok and r.must_change_password
    with rt.session() as s:
        auth.change_own_password(s, r.principal, tenant.admin_password, "a much better password")
    assert not _login(rt, "admin@acme", "a much better password").must_change_password
    with pytest.raises(Exception, match="too short"), rt.session() as s:
        auth.change_own_password(s, r.principal, "a much better password", "short")


def test_lockout_after_five_failures_even_for_right_password(rt, ann) -> None:  # type: ignore[no-untyped-def]
    t0 = datetime.now(UTC)
    delays = [_login(rt, ann, f"guess number {i}", now=t0 + timedelta(seconds=i)).retry_after for i in range(5)]
    assert delays[:4] == [1, 2, 4, 8]  # exponential back-off advice
    locked = _login(rt, ann, PW, now=t0 + timedelta(seconds=10))
    assert not locked.ok and "locked" in locked.error and 800 < locked.retry_after <= 900
    assert _login(rt, ann, PW, now=t0 + timedelta(minutes=16)).ok  # the lock expires
    with rt.control() as s:
        failures = s.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login", AuditEvent.outcome == "failed")).all()
        assert len(failures) == 6 and all(f.org_id == tenant_org_id(s) for f in failures)
        assert not any("guess number" in f.details for f in failures)


def tenant_org_id(s):  # type: ignore[no-untyped-def]
    return s.scalar(select(User.org_id).where(User.login == "ann@acme"))


def test_unknown_accounts_throttled_alike(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    t0 = datetime.now(UTC)
    results = [_login(rt, "nobody@acme", "whatever pass", now=t0) for _ in range(6)]
    assert results[0].error == "wrong login, password or code"
    assert "locked" in results[-1].error


def test_totp_enrolment_and_login(rt, ann) -> None:  # type: ignore[no-untyped-def]
    p = _login(rt, ann, PW).principal
    with rt.session() as s:
        enrol = auth.begin_totp(s, rt.master_key, p)
    with rt.control() as s:
        stored = s.scalar(select(User.totp_secret).where(User.login == ann))
    assert enrol.secret.encode() not in stored and enrol.uri.startswith("otpauth://totp/")
    totp = pyotp.TOTP(enrol.secret)
    with pytest.raises(AuthFailed), rt.session() as s:
        auth.confirm_totp(s, rt.master_key, p, "000000" if totp.now() != "000000" else "111111")
    now = datetime.now(UTC)
    with rt.session() as s:
        auth.confirm_totp(s, rt.master_key, p, totp.at(now), now=now)
    later = now + timedelta(seconds=60)
    assert not _login(rt, ann, PW, now=later).ok  # a code is needed now
    assert _login(rt, ann, PW, totp.at(later), now=later).ok
    assert not _login(rt, ann, PW, totp.at(later), now=later).ok  # and it works only once
    with rt.session() as s:
        assert not any(enrol.secret in e.details for e in s.scalars(select(AuditEvent)))


def test_mfa_enforced_per_org(rt, tenant, ann) -> None:  # type: ignore[no-untyped-def]
    assert not _login(rt, ann, PW).totp_enrolment_required
    with rt.session() as s:
        auth.set_mfa_required(s, tenant.admin, "acme", True)
    r = _login(rt, ann, PW)
    assert r.ok and r.totp_enrolment_required
    with rt.session() as s:
        ws = auth.start_session(s, r)
        assert auth.resume_session(s, ws.cookie).mfa_pending
        enrol = auth.begin_totp(s, rt.master_key, r.principal)
        auth.confirm_totp(s, rt.master_key, r.principal, pyotp.TOTP(enrol.secret).now())
        assert not auth.resume_session(s, ws.cookie).mfa_pending
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert not _login(rt, ann, PW, now=later).ok  # enrolled: the code is required from now on


def test_secret_encryption_bound_to_context(rt) -> None:  # type: ignore[no-untyped-def]
    blob = auth.encrypt_secret(rt.master_key, b"JBSWY3DPEHPK3PXP", "totp:1")
    assert auth.decrypt_secret(rt.master_key, blob, "totp:1") == b"JBSWY3DPEHPK3PXP"
    with pytest.raises(Exception, match="failed to decrypt"):
        auth.decrypt_secret(rt.master_key, blob, "totp:2")


def test_api_tokens(rt, tenant, ann) -> None:  # type: ignore[no-untyped-def]
    p = _login(rt, ann, PW).principal
    with rt.session() as s:
        tok = auth.create_token(s, p, "backup script")
    assert tok.token.startswith("mla_")
    with rt.control() as s:
        raw = s.execute(text("SELECT token_hash FROM api_tokens")).scalar()
        assert tok.token not in raw and len(raw) == 64
    with rt.session() as s:
        assert auth.authenticate_token(s, tok.token).principal == p
        assert not auth.authenticate_token(s, tok.token + "x").ok
    with pytest.raises(NotFound), rt.session() as s:  # someone else's token: not even its existence
        auth.revoke_token(s, Principal("user", "someone", "someone@globex", org_id="other"), tok.id)
    with rt.session() as s:
        auth.revoke_token(s, tenant.admin, tok.id)  # an Admin of its organization may
    with rt.session() as s:
        r = auth.authenticate_token(s, tok.token)
        assert not r.ok and "not valid" in r.error
    with rt.session() as s:
        short = auth.create_token(s, p, "short", ttl=timedelta(minutes=1))
        assert not auth.authenticate_token(s, short.token, now=datetime.now(UTC) + timedelta(minutes=2)).ok
    with rt.control() as s:
        assert all(tok.token not in e.details and tok.token not in e.target for e in s.scalars(select(AuditEvent)))


def test_sessions_expire_end_and_die_with_the_user(rt, tenant, ann) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        ws = auth.start_session(s, auth.login(s, rt.master_key, ann, PW))
    with rt.control() as s:
        assert ws.cookie not in (s.execute(text("SELECT session_hash FROM web_sessions")).scalar())
    with rt.session() as s:
        assert auth.resume_session(s, ws.cookie).principal.login == ann
        assert auth.resume_session(s, ws.cookie, now=datetime.now(UTC) + timedelta(hours=13)) is None
        idn.delete_user(s, tenant.admin, "acme", ann)
        assert auth.resume_session(s, ws.cookie) is None
    with rt.session() as s:
        ws2 = auth.start_session(s, auth.login(s, rt.master_key, "admin@acme", tenant.admin_password))
        auth.end_session(s, ws2.cookie)
        assert auth.resume_session(s, ws2.cookie) is None


def test_operators_limited_to_listed_orgs(rt, tenant, other, op) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        _, pw = auth.create_operator(s, op, "tech", orgs=["globex"])
    tech = _login(rt, "tech", pw).require()
    assert tech.kind == "operator" and tech.org_ids == {other.org.id}
    with rt.session() as s:
        idn.create_user(s, tech, "globex", "gus@globex")  # acts as Admin where it serves
        with pytest.raises(NotFound, match="no organization named 'acme'"):
            idn.list_users(s, tech, "acme")
        with pytest.raises(Forbidden, match="every organization"):
            auth.create_operator(s, tech, "tech2")
        with pytest.raises(Forbidden):
            auth.create_operator(s, tenant.admin, "evil")
        assert s.scalar(select(Operator.password_hash).where(Operator.name == "tech")).startswith("$argon2")


def test_disabled_user_cannot_log_in(rt, tenant, ann) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        idn.set_user_active(s, tenant.admin, "acme", ann, False)
    assert not _login(rt, ann, PW).ok
    with rt.control() as s:
        assert ADMIN not in idn.roles_of(s, tenant.admin, "acme", ann)


def test_a_guesser_elsewhere_locks_out_only_itself(rt, ann) -> None:  # type: ignore[no-untyped-def]
    """Issue 13: five wrong passwords from one address must not lock the owner out from theirs."""
    t0 = datetime.now(UTC)
    with rt.session() as s:
        for i in range(auth.MAX_FAILURES):
            auth.login(s, rt.master_key, ann, f"guess number {i}", now=t0 + timedelta(seconds=i), source="203.0.113.9")
    with rt.session() as s:
        locked = auth.login(s, rt.master_key, ann, PW, now=t0 + timedelta(seconds=10), source="203.0.113.9")
    assert not locked.ok and locked.locked
    with rt.session() as s:
        mine = auth.login(s, rt.master_key, ann, PW, now=t0 + timedelta(seconds=11), source="198.51.100.7")
    assert mine.ok


def test_a_token_and_a_session_bring_their_account_and_its_one_time_password(rt, tenant, ann) -> None:  # type: ignore[no-untyped-def]
    """Issue 16: the row and its account come in one statement; the one-time-password flag with them."""
    first = _login(rt, ann, PW)
    with rt.session() as s:
        tok = auth.create_token(s, first.principal, "script")
        ws = auth.start_session(s, first)
    with rt.session() as s:
        r, info = auth.authenticate_token(s, tok.token), auth.resume_session(s, ws.cookie)
        assert r.principal == first.principal and not r.must_change_password
        assert info.principal == first.principal and not info.must_change_password
        auth.reset_password(s, tenant.admin, "acme", ann)
    with rt.session() as s:
        assert auth.authenticate_token(s, tok.token).must_change_password
        assert auth.resume_session(s, ws.cookie).must_change_password
        idn.set_user_active(s, tenant.admin, "acme", ann, False)
    with rt.session() as s:
        assert not auth.authenticate_token(s, tok.token).ok
        assert auth.resume_session(s, ws.cookie) is None


def test_an_operators_token_and_session_name_the_operator(rt, tenant, other, op) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        _, pw = auth.create_operator(s, op, "tech", orgs=["globex"])
    result = _login(rt, "tech", pw)
    tech = result.require()
    with rt.session() as s:
        tok = auth.create_token(s, tech, "ops")
        ws = auth.start_session(s, result)
    with rt.session() as s:
        r = auth.authenticate_token(s, tok.token)
        assert r.principal == tech and r.principal.org_ids == {other.org.id} and r.must_change_password
        assert auth.resume_session(s, ws.cookie).principal == tech
