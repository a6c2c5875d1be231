"""A source run that cannot do its job fails with a clear reason (ledger, profile) and the next
run catches up; storage full pauses the profile without losing or doubling anything."""

from __future__ import annotations

import json
import ssl

import pytest

from mailark.catalog.ingest import storage_used
from mailark.control import sources as control_sources
from mailark.sources.imap.sync import sync_profile
from mailark.sources.errors import SourceError
from mailark.sources.imap.client import connect, probe
from mailark.sources.imap.config import ImapConfig, ImapSecret
from tests.sources.imap.conftest import (
    account_config, append, archived_shas, items, make_source, new_user, server_shas,
)


def _profile(rt, pid):  # type: ignore[no-untyped-def]
    with rt.session() as s:
        p = control_sources.profile_by_id(s, pid)
        return p.last_status, p.last_error, p.paused_reason


def _failures(rt) -> list[str]:  # type: ignore[no-untyped-def]
    rows = rt.lake.execute("SELECT reasons FROM lake.ingest_ledger WHERE reasons LIKE '%failed:%'").fetchall()
    return [next(iter(json.loads(r[0]))) for r in rows]


def test_wrong_password_fails_then_fixed_credentials_catch_up(rt, org, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    user = new_user(dovecot)
    append(dovecot, user, "INBOX", messages[:3])
    pid = make_source(rt, "wrongpw", account_config(dovecot, user), {"password": "not-the-password"})
    r = sync_profile(rt, pid)
    assert r.status == "failed" and r.fetched == 0
    assert "refused the login" in r.error and "check the user name and password" in r.error
    status, error, _ = _profile(rt, pid)
    assert status == "failed" and "refused the login" in error
    assert len(_failures(rt)) == 1 and "refused the login" in _failures(rt)[0]
    assert "not-the-password" not in error
    from mailark.control.principals import Principal

    with rt.session(write=True) as s:
        control_sources.update_source(s, Principal.deployment_operator(), "acme", "wrongpw", rt.master_key,
                                      secret={"password": dovecot.users[user]})
    r = sync_profile(rt, pid)
    assert r.status == "ok" and r.fetched == 3
    assert _profile(rt, pid)[:2] == ("ok", None)


def test_server_down_fails_the_run_and_the_next_catches_up(rt, org, own_dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    server = own_dovecot
    user = new_user(server)
    append(server, user, "INBOX", messages[:3])
    pid = make_source(rt, "down", account_config(server, user, timeout=5), {"password": server.users[user]})
    assert sync_profile(rt, pid).counts.archived == 3
    server.stop()
    r = sync_profile(rt, pid)
    assert r.status == "failed" and "cannot reach IMAP server" in r.error and "is the server up" in r.error
    assert _profile(rt, pid)[0] == "failed"
    assert any("cannot reach" in f for f in _failures(rt))
    server.start()
    append(server, user, "INBOX", messages[3:5])
    r = sync_profile(rt, pid)
    assert r.status == "ok" and r.fetched == 2 and r.counts.archived == 2 and r.counts.duplicates == 0
    assert len(items(rt)) == 5


def test_untrusted_certificate_fails_with_what_to_do(rt, org, dovecot, imap_user, messages) -> None:  # type: ignore[no-untyped-def]
    cfg = account_config(dovecot, imap_user)
    del cfg["ca_file"]
    pid = make_source(rt, "untrusted", cfg, {"password": dovecot.users[imap_user]})
    r = sync_profile(rt, pid)
    assert r.status == "failed" and "not trusted" in r.error and "ca_pem" in r.error
    with pytest.raises(SourceError) as e:
        probe(cfg, {"password": dovecot.users[imap_user]})
    assert not e.value.retryable
    # With its certificate given as the CA (or checking off, for a test server) it works.
    assert "logged in as" in probe({**cfg, "ca_pem": dovecot.cert.read_text()}, {"password": dovecot.users[imap_user]})
    assert "logged in as" in probe({**cfg, "verify_cert": False}, {"password": dovecot.users[imap_user]})


def test_starttls_and_plain(rt, org, dovecot, imap_user, messages) -> None:  # type: ignore[no-untyped-def]
    append(dovecot, imap_user, "INBOX", messages[:2])
    secret = ImapSecret(password=dovecot.users[imap_user])
    cfg = ImapConfig.model_validate(account_config(dovecot, imap_user, security="starttls", port=dovecot.imap_port))
    with connect(cfg, secret) as s:
        assert isinstance(s.client._imap.sock, ssl.SSLSocket)  # upgraded before the login
    assert "(STARTTLS)" in probe(cfg, secret)
    pid = make_source(rt, "starttls", cfg.model_dump(mode="json"), secret.stored())
    assert sync_profile(rt, pid).fetched == 2
    plain = cfg.model_copy(update={"security": "plain"})
    with connect(plain, secret) as s:
        assert not isinstance(s.client._imap.sock, ssl.SSLSocket)
    # STARTTLS against the implicit-TLS port: a clear failure, not a hang.
    with pytest.raises(SourceError):
        probe(cfg.model_copy(update={"port": dovecot.imaps_port, "timeout": 3}), secret)


def test_folder_gone_while_running_is_a_clear_error(dovecot, imap_user) -> None:  # type: ignore[no-untyped-def]
    cfg = ImapConfig.model_validate(account_config(dovecot, imap_user))
    with connect(cfg, ImapSecret(password=dovecot.users[imap_user])) as s:
        with pytest.raises(SourceError, match="disappeared"):
            s.examine("Gone")
        with pytest.raises(SourceError, match="disappeared"):
            s.status("Gone", "Gone")


def test_storage_full_pauses_then_resumes(rt, org, account, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.models import Organization

    pid, user = account
    append(dovecot, user, "INBOX", messages[:3])
    assert sync_profile(rt, pid).counts.archived == 3
    new = messages[3:9]
    used = storage_used(rt.archive_for(org))
    with rt.session(write=True) as s:
        s.get(Organization, org.id).storage_quota_bytes = used + len(new[0]) + len(new[1]) + 10
    append(dovecot, user, "INBOX", new)
    r = sync_profile(rt, pid)
    assert r.status == "paused" and r.counts.deferred == 4 and r.counts.archived == 2
    status, error, reason = _profile(rt, pid)
    assert status == "paused" and error is None and "storage quota full" in reason
    # Still full: the next run stays paused and archives nothing more.
    r = sync_profile(rt, pid)
    assert r.status == "paused" and r.counts.archived == 0
    with rt.session(write=True) as s:
        s.get(Organization, org.id).storage_quota_bytes = 10 * 2**30
    r = sync_profile(rt, pid)
    assert r.status == "ok" and r.counts.archived == 4 and r.counts.duplicates == 2
    assert _profile(rt, pid) == ("ok", None, None)
    assert len(items(rt)) == 9 and len({sha for _, sha, _ in items(rt)}) == 9
    assert sync_profile(rt, pid).fetched == 0


def test_connection_lost_mid_run_then_caught_up_without_doubles(rt, org, own_dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import Future

    server = own_dovecot
    user = new_user(server)
    append(server, user, "INBOX", messages[:30])
    pid = make_source(rt, "flaky", account_config(server, user, batch_messages=3, timeout=5),
                      {"password": server.users[user]})
    calls = []

    def submit(writer, batch):  # type: ignore[no-untyped-def]
        f: Future = Future()
        f.set_result(writer.write(batch.items))
        calls.append(batch.number)
        if len(calls) == 1:
            server.stop()  # the server goes away after the first batch is archived
        return f

    r = sync_profile(rt, pid, submit=submit)
    assert r.status == "failed" and ("broke" in r.error or "cannot reach" in r.error), r.error
    archived = r.counts.archived
    archived += r.counts.quarantined
    assert 3 <= archived < 30 and len(archived_shas(rt)) == archived
    server.start()
    r = sync_profile(rt, pid)
    assert r.status == "ok", r.error
    expected = server_shas(server, user)
    assert len(expected) >= 25  # a few corpus messages are stored alike by the server
    assert sorted(expected) == archived_shas(rt)  # every message once
    assert r.counts.archived + r.counts.quarantined + archived == len(expected)


def test_killed_before_the_cursor_moved_stores_nothing_twice(rt, org, account, dovecot, messages, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.control import sources as cs

    pid, user = account
    append(dovecot, user, "INBOX", messages[:30])  # two of them cannot be parsed: quarantined
    expected = sorted(server_shas(dovecot, user))
    real = cs.set_cursor

    def crash(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("killed")

    monkeypatch.setattr(cs, "set_cursor", crash)
    with pytest.raises(RuntimeError):
        sync_profile(rt, pid)
    first = archived_shas(rt)  # the first batch was committed, its cursor step not
    assert 0 < len(first) < len(expected)
    monkeypatch.setattr(cs, "set_cursor", real)
    r = sync_profile(rt, pid)
    # Listed again: what is archived is recognised, not downloaded again (counted as duplicates).
    assert r.status == "ok" and r.known == len(first) and r.fetched == 30 - len(first)
    assert archived_shas(rt) == expected
    assert rt.lake.execute("SELECT count(*) FROM lake.quarantine").fetchone()[0] >= 1
    # Everything again (the cursors dropped): quarantined items are recognised too.
    with rt.session(write=True) as s:
        for key in cs.get_cursors(s, pid):
            cs.drop_cursor(s, pid, key)
    r = sync_profile(rt, pid)
    assert r.fetched == 0 and r.known == 30 and r.counts.duplicates == 30
    assert archived_shas(rt) == expected
    assert sync_profile(rt, pid).counts.seen == 0
    # A quarantined item follows a move on the server like any other.
    (q_pos,) = rt.lake.execute("SELECT source_position FROM lake.quarantine LIMIT 1").fetchone()
    c = dovecot.client(user)
    c.select_folder("INBOX")
    c.create_folder("Odd")
    c.move([int(q_pos.split(":")[1])], "Odd")
    c.logout()
    r = sync_profile(rt, pid)
    assert r.moved == 1 and r.fetched == 0
    assert rt.lake.execute("SELECT count(*) FROM lake.quarantine WHERE folder = 'Odd'").fetchone()[0] == 1


def test_xoauth2_login(rt, org, dovecot, imap_user, messages) -> None:  # type: ignore[no-untyped-def]
    append(dovecot, imap_user, "INBOX", messages[:2])
    dovecot.tokens["tok-" + imap_user] = imap_user
    cfg = account_config(dovecot, imap_user, auth="xoauth2")
    assert "logged in as" in probe(cfg, {"token": "tok-" + imap_user})
    with pytest.raises(SourceError, match="refused the login"):
        probe(cfg, {"token": "expired-token"})
    with pytest.raises(SourceError, match="OAuth2 access token"):
        probe(cfg, {"password": "a password is not a token"})
    pid = make_source(rt, "oauth", cfg, {"token": "tok-" + imap_user})
    assert sync_profile(rt, pid).fetched == 2


def test_folder_gone_fails_the_run_and_the_next_goes_on(rt, org, account, dovecot, messages, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.sources.imap.client import ImapSession

    pid, user = account
    append(dovecot, user, "INBOX", messages[:3])
    listed = ImapSession.folders
    # A folder deleted by its user between LIST and STATUS (the server answers NONEXISTENT).
    monkeypatch.setattr(ImapSession, "folders", lambda self: [*listed(self), ("Vanished", "Vanished")])
    r = sync_profile(rt, pid)
    assert r.status == "failed" and "folder 'Vanished' disappeared" in r.error
    assert _profile(rt, pid)[0] == "failed" and any("Vanished" in f for f in _failures(rt))
    monkeypatch.setattr(ImapSession, "folders", listed)
    r = sync_profile(rt, pid)
    assert r.status == "ok" and r.fetched == 3
