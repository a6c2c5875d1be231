"""Compliance deletes archived mail over HTTP, with a reason; nobody else can; it is audited."""

from __future__ import annotations

from mailark.catalog.ingest import BatchWriter, Incoming
from mailark.catalog.lake import ALIAS
from tests.catalog.test_ingest import mail
from tests.dashboards.conftest import Server, add_user, client


def _archive(server: Server, org_name: str, address: str, n: int) -> list[str]:
    from mailark.control.mailboxes import find_mailbox

    rt = server.rt
    org = rt.org(org_name)
    with rt.session() as s:
        mb = find_mailbox(s, org, address)
    archive = rt.archive_for(org)
    BatchWriter(archive, "t", "test").write([Incoming(mail(i, b"pdf" * 100), mb.id, address, "INBOX", "t", str(i))
                                             for i in range(n)])
    return [r[0] for r in rt.lake.execute(f"SELECT item_id FROM {ALIAS}.mailbox_items WHERE org_id = ? ORDER BY item_id",
                                           [org.id]).fetchall()]


def test_compliance_deletes_with_a_reason_others_cannot(server: Server, make_tenant, operator_token: str) -> None:  # type: ignore[no-untyped-def]
    t, other = make_tenant(), make_tenant()
    rita, rita_token = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    _, officer = add_user(server, t, "cora", roles=["Compliance"])
    items = _archive(server, t.name, rita, 3)
    url = f"/api/orgs/{t.name}/deletions"
    body = {"reason": "legal instruction 7", "item_ids": items[:2]}
    with client(server, t.token) as c:
        r = c.post(url, json=body)
        assert r.status_code == 403 and "Compliance" in r.json()["error"]
    with client(server, rita_token) as c:
        assert c.post(url, json=body).status_code == 403
    with client(server, other.token) as c:
        assert c.post(url, json=body).status_code == 404
    with client(server, officer) as c:
        r = c.post(url, json={"reason": "no", "item_ids": items[:2]})
        assert r.status_code == 400 and "reason" in r.json()["error"]
        r = c.post(url, json=body)
        assert r.status_code == 200, r.text
        assert (r.json()["copies"], r.json()["messages"], sorted(r.json()["item_ids"])) == (2, 2, sorted(items[:2]))
        r = c.post(url, json={"reason": "legal instruction 8", "mailbox": rita, "message_id": "<2@acme>"})
        assert r.status_code == 200 and r.json()["copies"] == 1
        r = c.post(url, json=body)
        assert r.status_code == 400 and "nothing to delete" in r.json()["error"]
    with client(server, operator_token) as c:
        events = [e for e in c.get(f"/api/orgs/{t.name}/audit").json() if e["action"] == "content.delete"]
    assert len(events) == 2 and "legal instruction 7" in str(events[0]) and items[0] in str(events[0])
