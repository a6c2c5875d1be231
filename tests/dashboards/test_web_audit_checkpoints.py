"""The chain verdict on the audit pages and the API is the incremental one (from the newest verified
checkpoint), says where it started and when the chain was last verified in full, and warns when that
is stale or never happened; operators may force a full check over the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.dashboards.conftest import OPERATOR_PASSWORD, Server, add_user, client
from tests.dashboards.test_web_audit_pages import _auditor, _seed
from tests.dashboards.web_helpers import page_client


def _checkpoints(server: Server, sql: str, **params: object) -> None:
    with server.rt.session() as s:
        s.execute(text(sql), params)


def test_pages_show_where_the_check_started_and_the_last_full_one(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("audcp")
    login, pw = _auditor(server, t)
    _checkpoints(server, "DELETE FROM audit_checkpoints")  # the next check walks from the genesis: a full one
    with page_client(server, "msp", OPERATOR_PASSWORD) as c:
        r = c.get("/audit")
        assert r.status_code == 200 and "Verified from event 1;" in r.text and 'id="chain-stale"' not in r.text
        _seed(server, t, 5)
        with server.rt.control() as s:
            cp = s.execute(text("SELECT max(seq) FROM audit_checkpoints")).scalar_one()
        r = c.get("/audit")
        assert f"Verified from event {cp};" in r.text and "last full verification: " + f"{datetime.now(UTC):%Y-%m-%d}" in r.text
        # the last full verification three days ago: a warning
        _checkpoints(server, "UPDATE audit_checkpoints SET verified_at = :t", t=datetime.now(UTC) - timedelta(days=3))
        r = c.get("/audit")
        assert 'id="chain-stale"' in r.text and "more than two days old" in r.text
    with page_client(server, login, pw) as c:
        r = c.get(f"/o/{t.name}/audit")
        assert 'id="chain-stale"' in r.text and "Verified from event" not in r.text, "no deployment figures"
        r = c.get(f"/o/{t.name}/audit", params={"lang": "de"})
        assert "letzte vollständige Prüfung" in r.text and "mehr als zwei Tage alt" in r.text
    # never verified in full: only an incremental checkpoint at the head
    with server.rt.session() as s:
        s.execute(text("DELETE FROM audit_checkpoints"))
        s.execute(text("INSERT INTO audit_checkpoints (seq, hash, verified_at, full) SELECT seq, hash, :t, false "
                       "FROM audit_head"), {"t": datetime.now(UTC)})
    with page_client(server, "msp", OPERATOR_PASSWORD) as c:
        r = c.get("/audit")
        assert "last full verification: never" in r.text and "never been verified in full" in r.text
        r = c.get("/audit", params={"lang": "de"})
        assert "Die Hash-Kette wurde noch nie vollständig geprüft" in r.text and "Geprüft ab Ereignis" in r.text
    _checkpoints(server, "DELETE FROM audit_checkpoints")


def test_api_incremental_by_default_full_for_operators_on_request(server: Server, make_tenant,
                                                                  operator_token: str) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("audcpapi")
    _, aud = add_user(server, t, "cpaud", roles=["Auditor"])
    with client(server, operator_token) as c:
        full = c.get("/api/audit/verify", params={"full": "true"}).json()
        assert full["ok"] and full["full"] and full["from_seq"] == 1 and full["events_checked"] == full["head_seq"]
        assert full["last_full_at"] and not full["full_is_stale"]
        _seed(server, t, 3)
        inc = c.get("/api/audit/verify").json()
        assert inc["ok"] and not inc["full"] and inc["from_seq"] >= full["head_seq"]
        assert inc["events_checked"] <= inc["head_seq"] - full["head_seq"] + 1 < full["events_checked"]
    with client(server, aud) as c:
        v = c.get(f"/api/orgs/{t.name}/audit/verify", params={"full": "true"}).json()  # ignored: not the operators'
        assert v["ok"] and v["last_full_at"] and v["events_checked"] is None and v["from_seq"] is None
        assert c.get("/api/audit/verify", params={"full": "true"}).status_code == 403
