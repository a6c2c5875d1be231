"""Invitations from the CLI: without a relay nothing is created and the admin is told what to set."""

from __future__ import annotations

import json


def test_send_invite_without_a_relay_creates_nothing_and_says_what_to_set(run_cli) -> None:  # type: ignore[no-untyped-def]
    run_cli("org", "create", "acme")
    r = run_cli("user", "add", "bob@acme", "--org", "acme", "--send-invite", "--invite-to", "bob@people.example", code=1)
    assert "no SMTP relay is configured" in r.stderr and "mail.relay_host" in r.stderr
    logins = [u["login"] for u in json.loads(run_cli("user", "list", "--org", "acme", "--json").stdout)]
    assert "bob@acme" not in logins
    r = run_cli("org", "create", "globex", "--send-invite", code=1)
    assert "--invite-to" in r.stderr
