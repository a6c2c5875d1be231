"""`mailark directory ...` as an operator types it (typer's runner in-process; the secret never on argv)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mailark.cli import app
from tests.directory.conftest import BASE, DOMAIN, make_tenant
from tests.peers.openldap import SYNC_DN, SYNC_PW

runner = CliRunner()


def cli(*args: str, input: str | None = None, code: int = 0, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    r = runner.invoke(app, list(args), input=input, env=env)
    assert r.exit_code == code, f"exit {r.exit_code}: {r.output}"
    return r


def test_cli_add_test_sync_dry_run_show_list_remove(rt, directory) -> None:  # type: ignore[no-untyped-def]
    make_tenant(rt, "acme", users=10, storage_gb=10)
    directory.ad_user("ann", aliases=("a.smith@example.test",))
    directory.ad_group("archive-compliance", ["ann"])
    srv = directory.srv
    base = ["directory", "add-ldap", "corp", "--org", "acme", "--url", srv.url, "--bind-dn", SYNC_DN, "--base-dn", BASE,
            "--domain", DOMAIN, "--ca-file", str(srv.ca_file), "--role", "archive-compliance=Compliance"]
    # No password anywhere: refused with what to do.
    r = cli(*base, code=1)
    assert "bind password" in r.output and "MAILARK_DIRECTORY_BIND_PASSWORD" in r.output
    cli(*base, "--bind-password-stdin", "--json", input=SYNC_PW + "\n")
    shown = json.loads(cli("directory", "show", "corp", "--org", "acme", "--json").stdout)
    assert shown["has_secret"] and shown["config"]["role_map"] == {"archive-compliance": "Compliance"}
    assert SYNC_PW not in cli("directory", "show", "corp", "--org", "acme").stdout
    t = cli("directory", "test", "corp", "--org", "acme")
    assert "1 users and 1 groups" in t.stdout
    dry = json.loads(cli("directory", "sync", "corp", "--org", "acme", "--dry-run", "--json").stdout)
    assert dry["dry_run"] and dry["summary"]["user.create"] == {"done": 1}
    assert "ann@example.test" not in cli("user", "list", "--org", "acme").stdout
    text = cli("directory", "sync", "corp", "--org", "acme").stdout
    assert "user.create" in text and "ann@example.test" in text
    assert "ann@example.test" in cli("user", "list", "--org", "acme").stdout
    # Synced users are read-only through the CLI too.
    r = cli("user", "disable", f"ann@{DOMAIN}", "--org", "acme", code=1)
    assert "read-only" in r.output
    listed = json.loads(cli("directory", "list", "--org", "acme", "--json").stdout)
    assert [(p["name"], p["last_status"]) for p in listed] == [("corp", "ok")]
    cli("directory", "remove", "corp", "--org", "acme")
    cli("user", "disable", f"ann@{DOMAIN}", "--org", "acme")


def test_cli_password_from_environment_and_failed_sync_exits_1(rt, directory) -> None:  # type: ignore[no-untyped-def]
    make_tenant(rt, "acme")
    srv = directory.srv
    cli("directory", "add-ldap", "corp", "--org", "acme", "--url", srv.url, "--bind-dn", SYNC_DN, "--base-dn", BASE,
        "--domain", DOMAIN, "--ca-file", str(srv.ca_file), env={"MAILARK_DIRECTORY_BIND_PASSWORD": "wrong-password"})
    r = cli("directory", "sync", "corp", "--org", "acme", code=1)
    assert "wrong bind DN or password" in r.output
    r = cli("directory", "test", "corp", "--org", "acme", code=1)
    assert "wrong bind DN or password" in r.output


def test_cli_add_m365(rt) -> None:  # type: ignore[no-untyped-def]
    make_tenant(rt, "contoso")
    cli("directory", "add-m365", "tenant", "--org", "contoso", "--tenant-id", "t", "--client-id", "c",
        "--domain", "contoso.example", "--graph-url", "https://127.0.0.1:9/graph", "--client-secret-stdin",
        input="s3cret\n")
    doc = json.loads(cli("directory", "show", "tenant", "--org", "contoso", "--json").stdout)
    assert doc["kind"] == "m365" and doc["config"]["directory_login"] is False and "s3cret" not in json.dumps(doc)
    assert doc["config"]["graph_url"] == "https://127.0.0.1:9/graph" and doc["config"]["include_shared_mailboxes"] is True
