"""The administration commands, run as the CLI runs them (the deployment operator)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text


@pytest.fixture
def cli(run_cli):  # type: ignore[no-untyped-def]
    """`run_cli`, with the JSON of a `--json` command already parsed."""
    def run(*args: str, code: int = 0):  # type: ignore[no-untyped-def]
        r = run_cli(*args, code=code)
        return json.loads(r.stdout) if "--json" in args and code == 0 else r
    return run


def test_admin_walkthrough(cli, rt, org) -> None:  # type: ignore[no-untyped-def]
    cli("domain", "add", "acme.com", "--global", "--org", "acme")
    assert [d["domain"] for d in cli("domain", "list", "--org", "acme", "--json")] == ["acme", "acme.com"]
    doc = cli("user", "add", "ann@acme.com", "--org", "acme", "--mailbox", "--json")
    assert doc["mailbox"] == "ann@acme.com" and len(doc["one_time_password"]) >= 12
    cli("group", "add", "legal", "--org", "acme")
    cli("role", "assign", "Compliance", "--group", "legal", "--org", "acme")
    cli("group", "add-member", "legal", "ann@acme.com", "--org", "acme")
    assert cli("group", "list", "--org", "acme", "--json")[1] == {"group": "legal", "members": ["ann@acme.com"],
                                                                  "roles": ["Compliance"]}
    cli("mailbox", "add", "info@acme.com", "--kind", "shared", "--org", "acme")
    cli("alias", "add", "info@acme.com", "hello@acme.com", "--org", "acme")
    cli("perm", "grant", "info@acme.com", "--user", "ann@acme.com", "--org", "acme")
    assert cli("perm", "list", "info@acme.com", "--org", "acme", "--json") == ["user ann@acme.com"]
    boxes = {m["primary_address"]: m for m in cli("mailbox", "list", "--org", "acme", "--json")}
    assert boxes["info@acme.com"]["aliases"] == ["hello@acme.com"] and boxes["ann@acme.com"]["owner"] == "ann@acme.com"
    v = cli("licence", "set", "--org", "acme", "--users", "20", "--storage-gb", "50", "--json")
    assert (v["licensed_users"], v["storage_quota_bytes"]) == (20, 50 * 10**9)
    assert cli("licence", "warnings", "--org", "acme", "--used-bytes", str(46 * 10**9), "--json")[0]["code"] == "storage"
    assert cli("licence", "warnings", "--org", "acme", "--json") == []  # usage read from the (empty) catalogue
    assert cli("audit", "verify", "--json")["ok"]
    events = cli("audit", "list", "--org", "acme", "--json")
    assert {"domain.add", "user.create", "mailbox.grant", "licence.change"} <= {e["action"] for e in events}
    assert all(e["actor"] == "deployment-operator" for e in events)


def test_refusals_exit_1_with_message(cli, rt, org) -> None:  # type: ignore[no-untyped-def]
    r = cli("user", "remove", "admin@acme", "--org", "acme", code=1)
    assert "without an Admin" in r.stderr and r.stdout == ""
    r = cli("licence", "set", "--org", "acme", "--storage-gb", "12", code=1)
    assert "not a tier" in r.stderr
    r = cli("domain", "list", "--org", "nope", code=1)
    assert "no organization named 'nope'" in r.stderr
    cli("role", "assign", "Admin", "--org", "acme", code=1)  # neither --group nor --user
    cli("domain", "add", "--org", "acme", code=2)  # wrong usage


def test_audit_verify_exits_1_when_broken(cli, rt, org) -> None:  # type: ignore[no-untyped-def]
    cli("group", "add", "x", "--org", "acme")
    with rt.session() as s:
        s.execute(text("UPDATE audit_events SET target = 'y' WHERE seq = 2"))
    r = cli("audit", "verify", code=1)
    assert "event 2" in r.stderr
    r = cli("audit", "verify", "--json", code=1)
    assert json.loads(r.stdout)["first_bad_seq"] == 2



def test_audit_verify_full_by_default_incremental_on_request(cli, rt, org) -> None:  # type: ignore[no-untyped-def]
    first = cli("audit", "verify", "--json")
    assert first["full"] and first["from_seq"] == 1 and first["last_full_at"]
    cli("group", "add", "x", "--org", "acme")
    inc = cli("audit", "verify", "--incremental", "--json")
    assert inc["ok"] and not inc["full"] and inc["from_seq"] == first["head_seq"] and inc["events_checked"] == 2
    assert "from the checkpoint at event" in cli("audit", "verify", "--incremental").stdout
    full = cli("audit", "verify", "--json")
    assert full["full"] and full["events_checked"] == full["head_seq"] == inc["head_seq"]

def test_org_mfa_and_operator(cli, rt, org) -> None:  # type: ignore[no-untyped-def]
    assert cli("org", "mfa", "--org", "acme", "--required", "--json")["mfa_required"] is True
    doc = cli("operator", "add", "tech", "--org", "acme", "--json")
    assert doc["orgs"] == ["acme"] and doc["one_time_password"]
    cli("operator", "remove", "tech")
