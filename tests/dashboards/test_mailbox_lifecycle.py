"""Issue 14, section 5, over HTTP: Admins see each archive mailbox's message count and size, sorted."""

from __future__ import annotations

from mailark.catalog.ingest import BatchWriter, Incoming
from tests.catalog.test_ingest import mail
from tests.dashboards.conftest import Server, add_user, client
from tests.dashboards.web_helpers import page_client


def archive_into(server: Server, org_name: str, address: str, n: int, body: bytes = b"x") -> None:
    from mailark.control.mailboxes import find_mailbox

    rt = server.rt
    org = rt.org(org_name)
    with rt.session() as s:
        mb = find_mailbox(s, org, address)
    BatchWriter(rt.archive_for(org), "t", "test").write(
        [Incoming(mail(i, body), mb.id, address, "INBOX", "t", f"{address}/{i}") for i in range(n)])


def test_admin_sees_count_and_size_of_every_mailbox_sortable(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(users=5)
    few_big, _ = add_user(server, t, "big", with_mailbox=True)
    many_small, _ = add_user(server, t, "many", with_mailbox=True)
    empty, _ = add_user(server, t, "empty", with_mailbox=True)
    archive_into(server, t.name, few_big, 2, b"attachment" * 20_000)
    archive_into(server, t.name, many_small, 5)
    with client(server, t.token) as c:
        rows = c.get(f"/api/orgs/{t.name}/mailboxes").json()
        got = {r["primary_address"]: (r["messages"], r["size_bytes"] > 0) for r in rows}
        assert got[few_big] == (2, True) and got[many_small] == (5, True) and got[empty] == (0, False)
        by = {k: [r["primary_address"] for r in c.get(f"/api/orgs/{t.name}/mailboxes", params={"sort": k}).json()]
              for k in ("size", "count", "address")}
        assert by["size"][:2] == [few_big, many_small]
        assert by["count"][:2] == [many_small, few_big]
        assert by["address"] == sorted(by["address"])
        assert c.get(f"/api/orgs/{t.name}/mailboxes", params={"sort": "colour"}).status_code in (400, 422)
    with page_client(server, t.admin, t.password) as c:
        page = c.get(f"/o/{t.name}/mailboxes", params={"sort": "count"})
        assert page.status_code == 200 and 'id="sort-size"' in page.text
        table = page.text.split('id="mailbox-list"')[1]
        assert table.index(many_small) < table.index(few_big)
        assert '<td class="num mb-count">5</td>' in table


def _full_export_done(server: Server, org_name: str) -> None:
    """A finished full export, as operations.exports leaves it (status done, its cut-off now)."""
    import json
    from datetime import UTC, datetime

    from mailark.control.models import ExportJob

    rt, now = server.rt, datetime.now(UTC)
    org = rt.org(org_name)
    sel = {"mailbox_ids": None, "mailboxes": None, "folder": None, "date_from": None, "date_to": None}
    with rt.session(write=True) as s:
        s.add(ExportJob(id=f"x{now.timestamp():.0f}", org_id=org.id, kind="full", status="done", selection=json.dumps(sel),
                        scope="all", archived_until=now, requested_by="admin", requested_by_id="admin",
                        requested_by_kind="user", object_name="none", created_at=now, started_at=now, finished_at=now))


def test_admin_retires_a_mailbox_no_new_mail_still_readable_released_after_export(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    from mailark.catalog.ingest import BatchWriter, Incoming
    from mailark.control.audit import list_events
    from mailark.control.mailboxes import find_mailbox
    from mailark.control.principals import Principal
    from mailark.control.retirement import released_ids

    t = make_tenant(users=2, mailboxes_per_user=1)
    leaver, leaver_token = add_user(server, t, "leaver", with_mailbox=True, roles=["Reader"])
    archive_into(server, t.name, leaver, 2)
    base = f"/api/orgs/{t.name}"
    with client(server, leaver_token) as c:
        assert c.post(f"{base}/mailboxes/{leaver}/retire").status_code == 403  # Admins only
    with client(server, t.token) as c:
        # The quota (2) is full; retiring alone does not free it.
        assert c.post(f"{base}/mailboxes", json={"address": f"more@{t.name}", "kind": "shared"}).status_code == 201
        assert c.post(f"{base}/mailboxes", json={"address": f"next@{t.name}", "kind": "shared"}).status_code == 409
        r = c.post(f"{base}/mailboxes/{leaver}/retire")
        assert r.status_code == 200 and r.json()["retired_at"]
        assert c.post(f"{base}/mailboxes/{leaver}/retire").status_code == 409  # already
        assert c.post(f"{base}/mailboxes", json={"address": f"next@{t.name}", "kind": "shared"}).status_code == 409

    # No new mail goes in: ingest defers it with the reason; what was there stays.
    rt = server.rt
    org = rt.org(t.name)
    with rt.session() as s:
        mb = find_mailbox(s, org, leaver)
    counts = BatchWriter(rt.archive_for(org), "t", "test").write(
        [Incoming(mail(9, b"after"), mb.id, leaver, "INBOX", "t", "after/9")])
    assert (counts.archived, counts.deferred, dict(counts.reasons)) == (0, 1, {"deferred: mailbox retired": 1})
    with client(server, leaver_token) as c:  # still readable by its reader
        assert c.get(f"{base}/archive/{leaver}/messages").json()["total"] == 2
    with client(server, t.token) as c:
        row = {r["primary_address"]: r for r in c.get(f"{base}/mailboxes").json()}[leaver]
        assert row["messages"] == 2 and row["retired_at"]

    # A finished full export covers it: it no longer counts against the mailbox quota.
    _full_export_done(server, t.name)
    with client(server, t.token) as c:
        assert c.post(f"{base}/mailboxes", json={"address": f"next@{t.name}", "kind": "shared"}).status_code == 201
        # Un-retiring would count it again: refused while the quota is full, with the reason.
        r = c.post(f"{base}/mailboxes/{leaver}/unretire")
        assert r.status_code == 409 and "archive mailboxes its licence allows" in r.json()["error"]
    with page_client(server, t.admin, t.password) as c:
        html = c.get(f"/o/{t.name}/mailboxes").text
        assert "retired since" in html and "mailbox-unretire" in html
    with rt.session() as s:  # audited, with who did it
        [ev] = [e for e in list_events(s, Principal.deployment_operator(), t.name) if e.action == "mailbox.retire"]
        assert ev.target == leaver and t.admin in ev.actor
    # After the retention period a retired mailbox is released even without an export.
    from datetime import UTC, datetime, timedelta

    with rt.session() as s:
        other = find_mailbox(s, org, f"more@{t.name}")
        other.retired_at = datetime.now(UTC)
        s.flush()
        assert other.id not in released_ids(s, org.id)
        assert other.id in released_ids(s, org.id, datetime.now(UTC) + timedelta(days=366))
        s.rollback()


def test_alias_added_over_http_brings_journalled_mail_in_the_background(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    import time

    from mailark.control.mailboxes import find_mailbox

    t = make_tenant(users=3)
    ann, _ = add_user(server, t, "ann", with_mailbox=True)
    base = f"/api/orgs/{t.name}"
    with client(server, t.token) as c:
        assert c.post(f"{base}/mailboxes", json={"address": f"journal@{t.name}", "kind": "journal"}).status_code == 201
    rt = server.rt
    org = rt.org(t.name)
    with rt.session() as s:
        journal = find_mailbox(s, org, f"journal@{t.name}")
    raw = (f"From: x@outside.example\r\nTo: anna.old@{t.name}\r\nSubject: before\r\nMessage-ID: <b4@x>\r\n\r\nhi\r\n").encode()
    BatchWriter(rt.archive_for(org), "t", "journal").write([Incoming(raw, journal.id, journal.primary_address, "Journal",
                                                                     "journal", "j/1")])
    with client(server, t.token) as c:
        assert c.post(f"{base}/mailboxes/{ann}/aliases", json={"alias": f"anna.old@{t.name}"}).status_code == 201
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = {r["primary_address"]: r for r in c.get(f"{base}/mailboxes").json()}[ann]
            if row["messages"]:
                break
            time.sleep(0.3)
        assert row["messages"] == 1 and row["size_bytes"] == len(raw)
