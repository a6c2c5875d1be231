"""Issue 14, section 5: an alias added later brings the mail already journalled for it into the mailbox
(catalogue rows only: no new object is stored), and says how many."""

from __future__ import annotations

import json

from mailark.sources.journal.drain import drain_all
from tests.control.conftest import run_cli  # noqa: F401 - the admin CLI in-process
from tests.sources.journal.conftest import JOURNAL, archived
from tests.sources.journal.test_journal import send

RAW = (b"From: Outsider <outsider@fabrikam.com>\r\nTo: Bob Jones <bob.jones@acme.com>\r\n"
       b"Subject: before the alias\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
       b"Message-ID: <relink@fabrikam.com>\r\n\r\nhello Bob\r\n")


def _objects(rt, org) -> int:  # type: ignore[no-untyped-def]
    return rt.lake.execute("SELECT count(*) FROM lake.objects WHERE org_id = ?", [org.id]).fetchone()[0]


def test_alias_added_later_links_journalled_mail(jrt, acme, endpoint, run_cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    send(endpoint[1], RAW, [JOURNAL])
    drain_all(jrt)
    # bob.jones@ was nobody's address yet: the message is only in the journal mailbox.
    assert archived(jrt, acme.org, JOURNAL) == [RAW]
    assert archived(jrt, acme.org, "bob@acme.com") == []
    objects = _objects(jrt, acme.org)

    r = run_cli("alias", "add", "bob@acme.com", "bob.jones@acme.com", "--org", "acme", "--json")
    doc = json.loads(r.stdout)
    assert doc["relink"] == "done" and doc["linked"] == 1
    assert archived(jrt, acme.org, "bob@acme.com") == [RAW]  # byte for byte, from the stored message
    assert _objects(jrt, acme.org) == objects  # single instance: nothing new stored
    assert jrt.lake.execute("SELECT source FROM lake.mailbox_items WHERE mailbox = 'bob@acme.com'").fetchall() == [("relink",)]

    # Again: nothing more (the mailbox holds the message); the count says so.
    doc = json.loads(run_cli("mailbox", "relink", "bob.jones@acme.com", "--org", "acme", "--json").stdout)
    assert doc["linked"] == 0 and doc["already"] == 1
    assert len(archived(jrt, acme.org, "bob@acme.com")) == 1
    # Other mailboxes are untouched; the runs are audited with their counts.
    assert archived(jrt, acme.org, "carol@acme.com") == []
    events = json.loads(run_cli("audit", "list", "--org", "acme", "--json").stdout)
    relinks = [e for e in events if e["action"] == "mailbox.relink"]
    assert sorted(e["details"]["linked"] for e in relinks) == [0, 1]
    # The mailbox list shows it: count and size per mailbox, largest first.
    rows = json.loads(run_cli("mailbox", "list", "--org", "acme", "--sort", "count", "--json").stdout)
    assert [(r["primary_address"], r["messages"]) for r in rows][:2] == [("bob@acme.com", 1), (JOURNAL, 1)]  # ties by address
    assert {r["primary_address"]: r["size_bytes"] for r in rows}["bob@acme.com"] == len(RAW)
    assert {r["primary_address"]: r["messages"] for r in rows}["carol@acme.com"] == 0


def test_retired_mailbox_gets_no_journal_mail_until_it_is_opened_again(jrt, acme, endpoint, run_cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    run_cli("mailbox", "retire", "bob@acme.com", "--org", "acme")
    raw = RAW.replace(b"bob.jones@acme.com", b"bob@acme.com").replace(b"relink@", b"retired@")
    send(endpoint[1], raw, [JOURNAL])
    [res] = drain_all(jrt)
    # The journal keeps it; the retired mailbox does not get it, and the drop is not held back for it.
    assert res.removed == 1 and res.counts.deferred == 0
    assert archived(jrt, acme.org, JOURNAL) == [raw] and archived(jrt, acme.org, "bob@acme.com") == []
    assert json.loads(run_cli("mailbox", "relink", "bob@acme.com", "--org", "acme", "--json").stdout)["linked"] == 0
    rows = json.loads(run_cli("mailbox", "list", "--org", "acme", "--json").stdout)
    assert {r["primary_address"]: r["retired"] for r in rows}["bob@acme.com"]
    # Opened again, the re-link brings what the journal kept for it.
    run_cli("mailbox", "unretire", "bob@acme.com", "--org", "acme")
    assert json.loads(run_cli("mailbox", "relink", "bob@acme.com", "--org", "acme", "--json").stdout)["linked"] == 1
    assert archived(jrt, acme.org, "bob@acme.com") == [raw]


def test_relink_alias_flow_reports_the_count(prefect_api, jrt, acme, endpoint) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.mailboxes import add_alias
    from mailark.control.principals import Principal
    from mailark.flows.relink import relink_alias

    send(endpoint[1], RAW, [JOURNAL])
    drain_all(jrt)
    with jrt.session() as s:
        add_alias(s, Principal.deployment_operator(), "acme", "bob@acme.com", "bob.jones@acme.com")
    result = relink_alias(org="acme", address="bob.jones@acme.com")
    assert (result["mailbox"], result["linked"]) == ("bob@acme.com", 1)
    assert archived(jrt, acme.org, "bob@acme.com") == [RAW]
