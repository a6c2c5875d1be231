"""Restore to mailbox over HTTP: the API route and the message page's button, against a real Dovecot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from mailark.catalog.ingest import BatchWriter, Incoming
from mailark.catalog.lake import ALIAS
from tests.dashboards.conftest import Server, add_user, client
from tests.dashboards.web_helpers import form_token, page_client
from tests.peers.dovecot import DovecotServer, find_dovecot, remove, start_dovecot


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotServer]:
    if find_dovecot() is None:
        pytest.skip("dovecot is not installed (scripts/install-test-deps.sh installs dovecot-imapd)")
    server = start_dovecot()
    try:
        yield server
    finally:
        remove(server)


def _mails(corpus: Path, n: int) -> list[bytes]:
    """Real messages with CRLF lines, as IMAP carries them."""
    out = []
    for p in sorted((corpus / "cpython-test_email").glob("msg_0*.txt")):
        raw = p.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if b"\r\n\r\n" in raw and raw not in out:
            out.append(raw)
        if len(out) == n:
            return out
    raise AssertionError("not enough corpus messages")


def _setup(server: Server, dovecot: DovecotServer, t, login: str, raws: list[bytes]) -> list[str]:  # type: ignore[no-untyped-def]
    """`login`'s archive mailbox holds `raws` and is archived by an IMAP profile of a Dovecot account."""
    from mailark.control.mailboxes import find_mailbox
    from mailark.control.principals import Principal
    from mailark.control.sources import create_source

    account = f"{login.split('@')[0]}-{t.name}@imap.test"
    dovecot.add_user(account, "pw-" + account)
    rt = server.rt
    org = rt.org(t.name)
    with rt.session(write=True) as s:
        mb = find_mailbox(s, org, login)
        create_source(s, Principal.deployment_operator(), t.name, "imap", f"imap-{login}",
                      {"host": dovecot.host, "port": dovecot.imaps_port, "security": "ssl", "ca_file": str(dovecot.cert),
                       "username": account, "mailbox": login}, {"password": "pw-" + account}, rt.master_key)
    BatchWriter(rt.archive_for(org), "t", "imap").write(
        [Incoming(r, mb.id, login, "INBOX", "imap", f"1:{i}") for i, r in enumerate(raws)])
    rows = rt.lake.execute(f"SELECT item_id FROM {ALIAS}.mailbox_items WHERE org_id = ? AND mailbox_id = ? "
                           f"ORDER BY source_position", [org.id, mb.id]).fetchall()
    return [r[0] for r in rows]


def _restored(dovecot: DovecotServer, login: str, t, folder: str = "Restored") -> list[bytes]:  # type: ignore[no-untyped-def]
    account = f"{login.split('@')[0]}-{t.name}@imap.test"
    c = dovecot.client(account)
    try:
        if not c.folder_exists(folder):
            return []
        c.select_folder(folder, readonly=True)
        return [d[b"BODY[]"] for _, d in sorted(c.fetch(c.search("ALL"), [b"BODY.PEEK[]"]).items())]
    finally:
        c.logout()


def test_reader_restores_over_the_api_and_others_may_not(server: Server, make_tenant, operator_token: str,  # type: ignore[no-untyped-def]
                                                         dovecot: DovecotServer, corpus: Path) -> None:
    t = make_tenant("restore")
    rita, rita_token = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    sam, _ = add_user(server, t, "sam", with_mailbox=True, roles=["Reader"])
    raws = _mails(corpus, 3)
    items = _setup(server, dovecot, t, rita, raws)
    _setup(server, dovecot, t, sam, [])
    base = f"/api/orgs/{t.name}/restore-mail"
    with client(server, rita_token) as c:
        r = c.post(base, json={"item_ids": items[:2], "into_folder": "Restored"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["status"], body["restored"], body["target"], body["kind"]) == ("done", 2, rita, "imap")
        r = c.post(base, json={"item_ids": items[:1], "target": sam})
        assert r.status_code == 403 and "your own mailbox" in r.json()["error"]
        r = c.post(base, json={"item_ids": ["no-such-item"]})
        assert r.status_code == 404
    assert sorted(_restored(dovecot, rita, t)) == sorted(raws[:2])  # byte for byte
    assert _restored(dovecot, sam, t) == []
    with client(server, operator_token) as c:  # MSP operators hold no content right
        r = c.post(base, json={"item_ids": items[:1], "target": rita})
        assert r.status_code == 403 and "MSP operators" in r.json()["error"]
    with client(server, t.token) as c:  # the Admin reads no mail, so restores none
        assert c.post(base, json={"item_ids": items[:1], "target": rita}).status_code == 403

    from mailark.control.models import AuditEvent

    with server.rt.session() as s:
        org_id = server.rt.org(t.name).id
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.org_id == org_id,
                                                         AuditEvent.action == "content.restore")))
    assert [(e.actor_login, e.target, e.outcome) for e in events] == [(rita, rita, "ok")]
    assert sorted(json.loads(events[0].details)["items"]) == sorted(items[:2])


def test_the_message_page_restores_with_one_button(server: Server, make_tenant, dovecot: DovecotServer,  # type: ignore[no-untyped-def]
                                                   corpus: Path) -> None:
    t = make_tenant("restorepage")
    rita, _ = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    raws = _mails(corpus, 1)
    items = _setup(server, dovecot, t, rita, raws)
    page = f"/o/{t.name}/m/{items[0]}"
    with page_client(server, rita, f"pw-rita-{t.name}-long") as c:
        csrf = form_token(c, page)
        assert 'id="restore"' in c.get(page).text and 'id="target"' not in c.get(page).text
        r = c.post(f"{page}/restore", data={"csrf": csrf, "into_folder": "From the archive"})
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith(page + "?done=mail_restored")
        shown = c.get(r.headers["location"]).text
        assert "restored into" in shown and "From the archive" in shown
        r = c.post(f"{page}/restore", data={"csrf": "forged", "into_folder": "X"})
        assert r.status_code == 403
    assert _restored(dovecot, rita, t, "From the archive") == raws
    cora, _ = add_user(server, t, "cora", roles=["Compliance"])
    with page_client(server, cora, f"pw-cora-{t.name}-long") as c:  # Compliance may name the mailbox
        assert 'id="target"' in c.get(page).text
