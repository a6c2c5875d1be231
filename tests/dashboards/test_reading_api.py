"""Reading archived mail over HTTP: mailboxes and folders, messages, search, downloads, audit, access."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import httpx

from mailark.catalog.ingest import BatchWriter, Incoming
from mailark.catalog.lake import ALIAS
from mailark.catalog.search.indexer import sync_index
from tests.dashboards.conftest import Server, add_user, client
from tests.search.mails import PDF, message, pdf_with

HOSTILE_HTML = """<html><head><link rel="stylesheet" href="https://evil.example/s.css">
<style>body{background:url(https://evil.example/bg.png)}</style></head>
<body onload="steal()"><p style="background-image:url(https://evil.example/x.png)">Hello <b>reader</b></p>
<img src="https://tracker.example/pixel.gif?u=1" alt="pixel"><img src="data:image/png;base64,iVBORw0KGgo=" alt="inline">
<script src="https://evil.example/x.js"></script><script>alert(1)</script>
<iframe src="https://evil.example/frame"></iframe><a href="https://acme.example/page">a link</a>
<a href="javascript:alert(1)">bad link</a><form action="https://evil.example/post"><input name="x"></form>
<video poster="https://evil.example/p.jpg"></video></body></html>"""


def _archive(server: Server, org_name: str, address: str, raws: list[bytes], folder: str = "INBOX") -> list[str]:
    from mailark.control.mailboxes import find_mailbox

    rt = server.rt
    org = rt.org(org_name)
    with rt.session() as s:
        mb = find_mailbox(s, org, address)
    archive = rt.archive_for(org)
    BatchWriter(archive, "t", "test").write([Incoming(r, mb.id, address, folder, "t", f"{folder}/{i}") for i, r in enumerate(raws)])
    rows = rt.lake.execute(f"SELECT item_id FROM {ALIAS}.mailbox_items WHERE org_id = ? AND mailbox_id = ? AND folder = ? "
                           f"ORDER BY source_position", [org.id, mb.id, folder]).fetchall()
    sync_index(archive, server.settings.db_dir)
    return [r[0] for r in rows]


def _audit(server: Server, token: str, org: str) -> list[dict]:  # type: ignore[type-arg]
    with client(server, token) as c:
        return c.get(f"/api/orgs/{org}/audit").json()  # type: ignore[no-any-return]


def test_reader_lists_reads_searches_and_downloads_own_mail(server: Server, make_tenant, operator_token: str) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("read")
    rita, rita_token = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    raws = [message(1, subject="Budget 2024", body="The budget is attached.", date=datetime(2024, 3, 1, tzinfo=UTC),
                    attachments=[("budget.pdf", PDF, pdf_with("Capital expenditure for Orion"))]),
            message(2, subject="Hello", html=HOSTILE_HTML, date=datetime(2024, 4, 1, tzinfo=UTC))]
    inbox = _archive(server, t.name, rita, raws)
    sub = _archive(server, t.name, rita, [message(3, subject="Old plans", date=datetime(2023, 1, 1, tzinfo=UTC))],
                   folder="INBOX/Projects")
    base = f"/api/orgs/{t.name}"
    with client(server, rita_token) as c:
        boxes = c.get(f"{base}/archive").json()
        assert [b["address"] for b in boxes] == [rita] and boxes[0]["count"] == 3
        inbox_node = boxes[0]["folders"][0]
        assert (inbox_node["path"], inbox_node["count"], inbox_node["total"]) == ("INBOX", 2, 3)
        assert [(f["path"], f["count"]) for f in inbox_node["children"]] == [("INBOX/Projects", 1)]

        page = c.get(f"{base}/archive/{rita}/messages", params={"folder": "INBOX"}).json()
        assert page["total"] == 2 and [m["subject"] for m in page["messages"]] == ["Hello", "Budget 2024"]
        page = c.get(f"{base}/archive/{rita}/messages", params={"folder": "INBOX", "subfolders": True, "per_page": 2,
                                                                  "page": 2}).json()
        assert page["total"] == 3 and [m["subject"] for m in page["messages"]] == ["Old plans"]

        r = c.get(f"{base}/search", params={"q": "orion"})
        assert r.status_code == 200 and [h["item_id"] for h in r.json()["hits"]] == [inbox[0]]
        assert c.get(f"{base}/search", params={"q": "has:attachment"}).json()["total"] == 1
        assert c.get(f"{base}/search", params={"q": "folder:INBOX/Projects"}).json()["hits"][0]["item_id"] == sub[0]
        assert [h["subject"] for h in c.get(f"{base}/search").json()["hits"]] == ["Hello", "Budget 2024", "Old plans"]
        # issue 13: nesting deeper than the parser allows is a 400 with what to change, never a 500
        for bad in ('"unclosed', "(a OR", "before:someday", "nofield:x", "(" * 300 + "a" + ")" * 300, "-" * 400 + "a",
                    "NOT " * 100 + "a"):
            r = c.get(f"{base}/search", params={"q": bad})
            assert r.status_code == 400 and "cannot be read" in r.json()["error"], (bad, r.text)
        assert c.get(f"{base}/search", params={"sort": "sideways"}).status_code == 422

        m = c.get(f"{base}/messages/{inbox[0]}").json()
        assert m["subject"] == "Budget 2024" and "The budget is attached." in m["text"]
        assert [(a["filename"], a["content_type"]) for a in m["attachments"]] == [("budget.pdf", "application/pdf")]
        assert any(h["name"] == "Message-ID" for h in m["headers"])
        r = c.get(m["attachments"][0]["url"])
        assert r.status_code == 200 and r.content.startswith(b"%PDF") and "budget.pdf" in r.headers["content-disposition"]
        assert r.headers["content-type"] == "application/octet-stream" and r.headers["x-content-type-options"] == "nosniff"
        assert c.get(f"{base}/messages/{inbox[0]}/attachments/9").status_code == 404

        r = c.get(m["eml_url"])
        assert r.status_code == 200 and r.content == raws[0]  # byte-identical
        assert hashlib.sha256(r.content).hexdigest() == r.headers["x-content-sha256"] == m["sha256"]

        html = c.get(f"{base}/messages/{inbox[1]}").json()
        clean = html["html"]
        assert "Hello <b>reader</b>" in clean and "a link" in clean and 'href="https://acme.example/page"' in clean
        for remote in ("evil.example", "tracker.example", "<script", "onload", "<iframe", "<style", "<link", "javascript:",
                       "<form", "style=", "url("):
            assert remote not in clean, remote
        assert 'src="data:image/png;base64' in clean and html["blocked_remote"] >= 2

    events = [e for e in _audit(server, operator_token, t.name) if e["action"].startswith("content.")]
    reads = [(e["target"], e["details"]["what"]) for e in events if e["action"] == "content.read"]
    assert (inbox[0], "message") in reads and (inbox[0], "attachment") in reads and (inbox[0], "eml") in reads
    assert (inbox[1], "message") in reads
    assert all(e["actor"] == rita for e in events if e["action"] == "content.read")
    assert any(e["action"] == "content.search" and e["target"] == "orion" for e in events)


def test_reader_cannot_read_others_nor_journal_but_compliance_can(server: Server, make_tenant, operator_token: str) -> None:  # type: ignore[no-untyped-def]
    t, other = make_tenant("perm"), make_tenant("other")
    rita, rita_token = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    sam, _ = add_user(server, t, "sam", with_mailbox=True, roles=["Reader"])
    _, cora_token = add_user(server, t, "cora", roles=["Compliance"])
    journal = f"journal@{t.name}"
    with client(server, t.token) as c:
        assert c.post(f"/api/orgs/{t.name}/mailboxes", json={"address": journal, "kind": "journal"}).status_code == 201
    own = _archive(server, t.name, rita, [message(1, subject="mine secretword")])
    sams = _archive(server, t.name, sam, [message(2, subject="sams secretword")])
    jour = _archive(server, t.name, journal, [message(3, subject="journal secretword")])
    base = f"/api/orgs/{t.name}"

    def visible(token: str) -> tuple[list[str], set[str]]:
        with client(server, token) as c:
            boxes = [b["address"] for b in c.get(f"{base}/archive").json()]
            hits = {h["subject"] for h in c.get(f"{base}/search", params={"q": "secretword"}).json()["hits"]}
        return boxes, hits

    assert visible(rita_token) == ([rita], {"mine secretword"})
    assert visible(cora_token) == (sorted([rita, sam, journal]), {"mine secretword", "sams secretword", "journal secretword"})
    # the admin administers mailboxes but reads no content without a grant or Compliance
    assert visible(t.token) == ([], set())
    with client(server, rita_token) as c:
        for item in (sams[0], jour[0]):
            for suffix in ("", "/eml", "/attachments/1"):
                r = c.get(f"{base}/messages/{item}{suffix}")
                assert r.status_code == 404 and "that you may read" in r.json()["error"], (item, suffix, r.text)
        assert c.get(f"{base}/archive/{journal}/messages").status_code == 404
        assert c.get(f"{base}/search", params={"mailbox": journal}).status_code == 404
        assert c.get(f"{base}/messages/{own[0]}").status_code == 200
    with client(server, t.token) as c:
        assert c.post(f"{base}/mailboxes/{sam}/aliases", json={"alias": f"samuel@{t.name}"}).status_code == 201
    with client(server, cora_token) as c:
        assert c.get(f"{base}/messages/{jour[0]}").status_code == 200
        # mailbox: takes any address of the mailbox (an alias added after the mail was archived too)
        hits = c.get(f"{base}/search", params={"q": f"mailbox:samuel@{t.name}"}).json()["hits"]
        assert [h["item_id"] for h in hits] == sams
        assert c.get(f"{base}/search", params={"q": f"mailbox:nobody@{t.name}"}).json()["total"] == 0
        assert c.get(f"{base}/archive/{journal}/messages").json()["total"] == 1
    with client(server, other.token) as c:  # another organization: the organization does not exist for it
        for url in (f"{base}/messages/{own[0]}", f"{base}/messages/{own[0]}/eml", f"{base}/search", f"{base}/archive"):
            r = c.get(url)
            assert r.status_code == 404 and r.json() == {"error": f"no organization named {t.name!r}"}, url
        r = c.get(f"/api/orgs/{other.name}/messages/{own[0]}")  # its own org, another org's item id
        assert r.status_code == 404
    refused = [e for e in _audit(server, operator_token, t.name) if e["action"] == "content.read" and e["target"] in (sams[0], jour[0])]
    assert [e["actor"] for e in refused] == [f"cora@{t.name}"]  # only the allowed read was audited


def test_unauthenticated_reads_are_refused(server: Server) -> None:
    r = httpx.get(server.url + "/api/orgs/x/messages/y/eml")
    assert r.status_code == 401
