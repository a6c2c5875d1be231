"""An API token's "last used" is kept to the minute: a request within the minute writes nothing, so
an API call does not begin with a commit (an fsync of the control plane) of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailark.control import auth
from mailark.control.models import ApiToken


def test_last_used_is_written_once_a_minute(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with rt.session() as s:
        tok = auth.create_token(s, tenant.admin, "sync script", now=t0)
    with rt.control() as s:
        assert auth.authenticate_token(s, tok.token, now=t0 + timedelta(seconds=1)).ok
        assert s.dirty, "the first use is recorded"
        s.commit()
    with rt.control() as s:
        assert auth.authenticate_token(s, tok.token, now=t0 + timedelta(seconds=40)).ok
        assert not s.dirty and not s.new, "a use within the minute writes nothing"
        s.rollback()
        assert s.get(ApiToken, tok.id).last_used_at.replace(tzinfo=UTC) == t0 + timedelta(seconds=1)
    with rt.control() as s:
        assert auth.authenticate_token(s, tok.token, now=t0 + timedelta(seconds=62)).ok
        s.commit()
        assert s.get(ApiToken, tok.id).last_used_at.replace(tzinfo=UTC) == t0 + timedelta(seconds=62)
