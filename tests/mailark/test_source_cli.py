"""`mailark source ...`: list, show, disable, test and remove profiles; credentials never shown."""

from __future__ import annotations

import json

from mailark.control.principals import Principal
from mailark.control.sources import create_source
from tests.mailark.test_cli import run


def test_source_commands(rt, org) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        create_source(s, Principal.deployment_operator(), "acme", "journal", "journal", {"address": "j@acme"},
                      {"password": "smtp-auth-secret"}, rt.master_key)
    listed = json.loads(run("source", "list", "--org", "acme", "--json").stdout)
    assert [(r["name"], r["kind"], r["enabled"], r["has_secret"]) for r in listed] == [("journal", "journal", True, True)]
    shown = run("source", "show", "journal", "--org", "acme").stdout
    assert "j@acme" in shown and "smtp-auth-secret" not in shown
    assert json.loads(run("source", "disable", "journal", "--org", "acme", "--json").stdout)["enabled"] is False
    tested = run("source", "test", "journal", "--org", "acme", check=1)
    assert "nothing to connect to" in tested.stderr
    assert "no source named 'nope'" in run("source", "show", "nope", "--org", "acme", check=1).stderr
    run("source", "remove", "journal", "--org", "acme")
    assert json.loads(run("source", "list", "--org", "acme", "--json").stdout) == []


def test_delete_command_needs_a_reason_and_audits(home, corpus) -> None:  # type: ignore[no-untyped-def]
    run("org", "create", "acme")
    run("import", "--org", "acme", "--mailbox", "ann@acme", str(corpus / "cpython-test_email"))

    def sql(q: str) -> list[dict]:  # type: ignore[type-arg]
        doc = json.loads(run("sql", "--json", q).stdout)
        return doc["rows"] if isinstance(doc, dict) else doc

    ids = [r["item_id"] for r in sql("SELECT item_id FROM mailbox_items ORDER BY item_id LIMIT 2")]
    refused = run("delete", "--org", "acme", "--reason", "x", "--item", ids[0], "--yes", check=1)
    assert "reason" in refused.stderr
    done = json.loads(run("delete", "--org", "acme", "--reason", "erasure request 42", "--item", ids[0],
                          "--item", ids[1], "--json").stdout)
    assert done["copies"] == 2 and sorted(done["item_ids"]) == sorted(ids)
    assert sql(f"SELECT count(*) AS n FROM mailbox_items WHERE item_id IN ('{ids[0]}', '{ids[1]}')")[0]["n"] == 0
    [event] = [e for e in json.loads(run("audit", "list", "--org", "acme", "--json").stdout)
               if e["action"] == "content.delete"]
    assert "erasure request 42" in json.dumps(event) and ids[0] in json.dumps(event)


def test_journal_add_names_its_senders_and_list_warns_of_open_addresses(rt, org) -> None:  # type: ignore[no-untyped-def]
    """Issue 13: `mailark journal add` needs --auth, --allow-network or an explicit --allow-any-sender."""
    refused = run("journal", "add", "--org", "acme", check=1)
    assert "sender networks" in refused.stderr and "--allow-network" in refused.stderr and not refused.stdout
    made = json.loads(run("journal", "add", "--org", "acme", "--allow-network", "192.0.2.0/24",
                          "--allow-network", "2001:db8::/32", "--json").stdout)
    assert made["allow_networks"] == ["192.0.2.0/24", "2001:db8::/32"] and made["allow_any_sender"] is False
    run("journal", "add", "--org", "acme", "--name", "open", "--allow-any-sender")
    listed = run("journal", "list", "--org", "acme", "--json")
    assert [r["name"] for r in json.loads(listed.stdout)] == ["journal", "open"]
    assert "journal-open@acme" in listed.stderr and "takes mail from anyone" in listed.stderr
    assert "journal@acme" not in listed.stderr.replace("journal-open@acme", "")
