"""`mailark audit list`: the API's filters and keyset cursors on the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mailark.control import audit
from mailark.control.principals import Principal
from tests.control.conftest import make_tenant


def _seqs(r) -> list[int]:  # type: ignore[no-untyped-def]
    return [e["seq"] for e in json.loads(r.stdout)]


@pytest.fixture
def log(rt):  # type: ignore[no-untyped-def]
    """Two organizations' events on three days, by two admins, with outcomes ok and denied."""
    acme, globex = make_tenant(rt, "acme"), make_tenant(rt, "globex")
    with rt.session() as s:
        for day, org, who, action, target, outcome in (
            (1, acme, acme.admin, "mailbox.add_alias", "Info@acme", "ok"),
            (1, globex, globex.admin, "mailbox.add_alias", "sales@globex", "ok"),
            (2, acme, acme.admin, "mailbox.remove_alias", "info@acme", "ok"),
            (2, acme, acme.admin, "content.export", "ann@acme", "denied"),
            (3, globex, globex.admin, "content.read", "bob@globex", "ok"),
            (3, acme, acme.admin, "mailbox.make_primary", "hello@acme", "ok"),
        ):
            audit.record(s, who, action, org_id=org.org.id, target=target, outcome=outcome,
                         now=datetime(2026, 11, day, 12, tzinfo=UTC))
    with rt.session() as s:
        every = list(audit.list_events(s, Principal.deployment_operator(), None, limit=1000))
    return {e.seq: e for e in every}


def test_filters(run_cli, log) -> None:  # type: ignore[no-untyped-def]
    def actions(*args: str) -> list[str]:
        return [e["action"] for e in json.loads(run_cli("audit", "list", *args, "--json").stdout)]

    assert actions("--action", "mailbox.add_alias") == ["mailbox.add_alias", "mailbox.add_alias"]
    assert actions("--action", "content.") == ["content.export", "content.read"]
    assert actions("--action", "mailbox.*", "--org", "acme") == ["mailbox.add_alias", "mailbox.remove_alias",
                                                                 "mailbox.make_primary"]
    assert actions("--actor", "admin@globex", "--action", "content.") == ["content.read"]
    assert actions("--outcome", "denied") == ["content.export"]
    assert actions("--target", "INFO@") == ["mailbox.add_alias", "mailbox.remove_alias"]
    # a date alone: --since from its start, --until through its end
    assert actions("--since", "2026-11-02", "--until", "2026-11-02") == ["mailbox.remove_alias", "content.export"]
    assert actions("--since", "2026-11-03T00:00:00+01:00", "--until", "2026-11-04", "--org", "globex") == ["content.read"]
    assert actions("--until", "2026-11-01T12:00:00", "--action", "mailbox.") == []  # until excludes its instant
    r = run_cli("audit", "list", "--org", "acme", "--outcome", "denied")
    assert "content.export" in r.stdout and "ann@acme" in r.stdout and r.stderr == ""


def test_paging_newest_first_with_before(run_cli, log) -> None:  # type: ignore[no-untyped-def]
    mine = sorted((s for s, e in log.items() if e.action.startswith("mailbox.")), reverse=True)
    r = run_cli("audit", "list", "--action", "mailbox.", "--newest", "--limit", "2")
    assert r.stderr.strip() == f"more: --before {mine[1]}"
    seen, before = [], None
    while True:
        args = ["audit", "list", "--action", "mailbox.", "--limit", "2", "--json"]
        args += ["--before", str(before)] if before else ["--newest"]
        r = run_cli(*args)
        seen += _seqs(r)
        cursor = json.loads(r.stderr)
        if cursor["older"] is None:
            break
        before = cursor["older"]
    assert seen == mine  # every matching event once, newest first
    r = run_cli("audit", "list", "--action", "mailbox.", "--before", str(mine[-1] + 1), "--limit", "2")
    assert r.stderr == "" and "more:" not in r.stdout  # the last page says nothing more


def test_paging_oldest_first_with_after_and_json_shape(run_cli, log) -> None:  # type: ignore[no-untyped-def]
    acme = sorted(s for s, e in log.items() if e.org_id == log[max(log)].org_id)
    r = run_cli("audit", "list", "--org", "acme", "--limit", "3", "--json")
    doc = json.loads(r.stdout)
    assert isinstance(doc, list) and _seqs(r) == acme[:3]  # still the plain list of events
    assert set(doc[0]) == {"seq", "at", "org_id", "actor", "action", "target", "outcome", "details"}
    assert json.loads(r.stderr) == {"older": None, "newer": acme[2]}
    r = run_cli("audit", "list", "--org", "acme", "--limit", "3", "--after", str(acme[2]))
    assert r.stderr.strip() == (f"more: --after {acme[5]}" if len(acme) > 6 else "")
    r = run_cli("audit", "list", "--org", "acme", "--after", str(acme[2]), "--limit", "1000", "--json")
    assert _seqs(r) == acme[3:] and json.loads(r.stderr) == {"older": acme[3], "newer": None}


def test_bad_input_is_wrong_usage(run_cli, log) -> None:  # type: ignore[no-untyped-def]
    for opt in ("--since", "--until"):
        r = run_cli("audit", "list", opt, "27.11.2026", code=2)
        with pytest.raises(ValueError) as e:
            audit.parse_time("27.11.2026")
        expected = str(e.value)  # the API's message, word for word (the error box may wrap it)
        assert expected in " ".join(r.stderr.replace("│", " ").split()), r.stderr
        assert r.stdout == ""
    run_cli("audit", "list", "--limit", "0", code=2)
    run_cli("audit", "list", "--before", "0", code=2)
    r = run_cli("audit", "list", "--org", "nope", code=1)
    assert "no organization named 'nope'" in r.stderr
