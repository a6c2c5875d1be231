"""`mailark source ...`: list, show, disable, test and remove profiles; credentials never shown."""

from __future__ import annotations

import json

from control.principals import Principal
from control.sources import create_source
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
