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
