"""`mailark source add-imap` / `sync-imap` on a typer app of their own (the lead registers them)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from mailark.cli.sources_imap import register
from tests.sources.imap.conftest import append


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    source_app = typer.Typer()
    register(source_app)
    app.add_typer(source_app, name="source")
    return app


def _add(cli, dovecot, user, *extra: str, password: str | None = None, env=None):  # type: ignore[no-untyped-def]
    args = ["source", "add-imap", "mail", "--org", "acme", "--host", dovecot.host, "--port", str(dovecot.imaps_port),
            "--ca-file", str(dovecot.cert), "--username", user, "--mailbox", user, "--interval", "300", "--json", *extra]
    if password is not None:
        args.append("--password-stdin")
    return CliRunner().invoke(cli, args, input=(password + "\n") if password is not None else None, env=env)


def test_add_and_sync_imap(cli, rt, org, dovecot, imap_user, messages) -> None:  # type: ignore[no-untyped-def]
    append(dovecot, imap_user, "INBOX", messages[:4])
    pw = dovecot.users[imap_user]
    # A wrong password is refused before anything is saved.
    r = _add(cli, dovecot, imap_user, password="nope")
    assert r.exit_code == 1 and "not saved" in r.output and "refused the login" in r.output
    r = _add(cli, dovecot, imap_user, password=pw)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["name"] == "mail" and "logged in as" in doc["test"] and "password" not in json.dumps(doc["config"])
    # The password is stored encrypted only: not in the control database, not in the audit log.
    db = (rt.settings.db_dir / "control.sqlite").read_bytes()
    wal = rt.settings.db_dir / "control.sqlite-wal"
    assert pw.encode() not in db + (wal.read_bytes() if wal.exists() else b"")

    r = CliRunner().invoke(cli, ["source", "sync-imap", "mail", "--org", "acme", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["status"] == "ok" and doc["fetched"] == 4 and doc["archived"] == 4
    r = CliRunner().invoke(cli, ["source", "sync-imap", "mail", "--org", "acme"])
    assert r.exit_code == 0 and "0 downloaded" in r.output
    r = CliRunner().invoke(cli, ["source", "sync-imap", "nope", "--org", "acme"])
    assert r.exit_code == 1 and "no source named 'nope'" in r.output


def test_password_never_from_argv(cli, rt, org, dovecot, imap_user) -> None:  # type: ignore[no-untyped-def]
    r = _add(cli, dovecot, imap_user, "--password", "x")
    assert r.exit_code == 2
    # Without stdin, environment or terminal: a clear refusal.
    r = _add(cli, dovecot, imap_user)
    assert r.exit_code == 1 and "--password-stdin" in r.output
    # From the environment; a failing sync exits 1 with the reason.
    r = _add(cli, dovecot, imap_user, "--no-test", env={"MAILARK_IMAP_PASSWORD": "wrong"})
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["source", "sync-imap", "mail", "--org", "acme"])
    assert r.exit_code == 1 and "refused the login" in r.output
