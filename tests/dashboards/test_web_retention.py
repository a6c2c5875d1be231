"""The retention pages through the real web app: a Compliance officer creates, changes (with the
shortening warning and a confirmation), previews and removes policies, places and releases holds,
reads the report; others get no link and a refusal."""

from __future__ import annotations

import hashlib
import html
import io
import re
import zipfile

from tests.dashboards.conftest import Server, add_user, client
from tests.dashboards.test_deletions_api import _archive
from tests.dashboards.web_helpers import form_token, page_client


def _hidden(page: str, form_id: str) -> dict[str, str]:
    form = page.split(f'id="{form_id}"')[1].split("</form>")[0]
    return {k: html.unescape(v) for k, v in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form)}


def test_compliance_manages_policies_and_holds_in_the_pages(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant()
    rita, _ = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    cora, officer_token = add_user(server, t, "cora", roles=["Compliance"])
    _archive(server, t.name, rita, 3)  # dated 2024-01-01
    base = f"/o/{t.name}"
    with page_client(server, t.admin, t.password) as c:  # an Admin is not Compliance
        assert f'href="{base}/retention"' not in c.get(f"{base}/usage").text
        assert c.get(f"{base}/retention").status_code == 403
    with page_client(server, cora, f"pw-cora-{t.name}-long") as c:
        page = c.get(f"{base}/retention").text
        assert f'href="{base}/retention"' in page and 'id="no-policies"' in page and 'id="no-holds"' in page
        tok = form_token(c, f"{base}/retention")
        r = c.post(f"{base}/retention/policies", data={"csrf": "nope", "name": "x", "keep": "1y"})
        assert r.status_code == 403
        r = c.post(f"{base}/retention/policies", data={"csrf": tok, "name": "long", "keep": "10y"})
        assert r.status_code == 200 and 'id="done"' in r.text and 'id="preview"' in r.text
        r = c.post(f"{base}/retention/policies", data={"csrf": tok, "name": "bad", "keep": "7 weeks"})
        assert r.status_code == 400 and 'id="refused"' in r.text

        # a shortening change: the warning and a confirmation, nothing saved until confirmed
        r = c.post(f"{base}/retention/policies", data={"csrf": tok, "change": "long", "name": "long", "keep": "1y"})
        assert r.status_code == 409 and "would shorten how long 3 archived copies" in html.unescape(r.text)
        with client(server, officer_token) as api:
            assert api.get(f"/api/orgs/{t.name}/retention/policies").json()[0]["keep"] == "10y"
        fields = _hidden(r.text, "confirm-form")
        assert fields["confirm"] == "true" and fields["keep"] == "1y" and fields["change"] == "long"
        r = c.post(f"{base}/retention/policies", data=fields)
        assert r.status_code == 200 and 'id="done"' in r.text
        with client(server, officer_token) as api:
            assert api.get(f"/api/orgs/{t.name}/retention/policies").json()[0]["keep"] == "1y"
        preview = r.text.split('id="preview"')[1].split("</table>")[0]
        assert preview.count("<tr>") == 14  # header, now, 12 months
        assert "<td>3 · " in preview  # the 2024 copies expired a year later: all three now

        # holds: placed with their size, released with a reason
        r = c.post(f"{base}/holds", data={"csrf": tok, "case": "Case 7", "reason": "litigation hold", "mailboxes": rita})
        assert r.status_code == 200
        holds = r.text.split('id="holds"')[1].split("</table>")[0]
        assert "Case 7" in holds and "3 copies" in holds
        assert "3 copies" in r.text.split('id="preview-held"')[1].split("</p>")[0]
        r = c.post(f"{base}/holds/Case%207/export", data={"csrf": tok})
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        assert r.headers["x-mailark-zip-sha256"] == hashlib.sha256(r.content).hexdigest()
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            assert len([n for n in zf.namelist() if n.endswith(".eml")]) == 3 and "CUSTODY.txt" in zf.namelist()
        assert c.post(f"{base}/holds/Case%209/export", data={"csrf": tok}).status_code == 404
        r = c.post(f"{base}/holds/Case%207/release", data={"csrf": tok, "reason": "no"})
        assert r.status_code == 400 and "reason of at least 5 characters" in html.unescape(r.text)
        r = c.post(f"{base}/holds/Case%207/release", data={"csrf": tok, "reason": "case closed"})
        assert r.status_code == 200 and 'id="no-holds"' in r.text

        rep = c.get(f"{base}/retention/report")
        assert rep.status_code == 200 and "hold.release" in rep.text and "retention.policy.change" in rep.text
        assert 'class="alert ok"' in rep.text.split('id="chain"')[0] + rep.text.split('id="chain"')[1][:40]

        # removing the only policy shortens nothing (no policy: kept for ever)
        r = c.post(f"{base}/retention/policies/long/remove", data={"csrf": tok})
        assert r.status_code == 200 and 'id="no-policies"' in r.text
        assert "Aufbewahrungsrichtlinien" in c.get(f"{base}/retention", params={"lang": "de"}).text


def test_compliance_decides_the_review_queue_in_the_pages(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    """A review policy lists expired copies on the retention page (whose, where, which message);
    ticked copies are deleted or kept there, through the same rules as the API (a held copy is refused)."""
    t = make_tenant()
    rita, _ = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    cora, officer = add_user(server, t, "cora", roles=["Compliance"])
    items = _archive(server, t.name, rita, 4)  # dated 2024-01-01
    with client(server, officer) as api:
        assert api.post(f"/api/orgs/{t.name}/retention/policies",
                        json={"name": "look first", "keep": "1y", "action": "review"}).status_code == 201
        assert api.post(f"/api/orgs/{t.name}/retention/apply").json()["review"] == 4
        listed = api.get(f"/api/orgs/{t.name}/retention/reviews").json()
        assert {x["item_id"] for x in listed} == set(items) and {x["mailbox"] for x in listed} == {rita}
        assert all(x["subject"] and x["folder"] == "INBOX" for x in listed)
    base = f"/o/{t.name}"
    with page_client(server, cora, f"pw-cora-{t.name}-long") as c:
        page = c.get(f"{base}/retention").text
        queue = page.split('id="reviews"')[1].split("</table>")[0]
        assert queue.count('name="item"') == 4 and rita in queue and f'href="{base}/m/{items[0]}"' in queue
        tok = form_token(c, f"{base}/retention")
        r = c.post(f"{base}/retention/reviews", data={"csrf": tok, "decision": "delete"})
        assert r.status_code == 400 and 'id="refused"' in r.text  # nothing ticked
        r = c.post(f"{base}/retention/reviews", data={"csrf": "nope", "decision": "delete", "item": items[0]})
        assert r.status_code == 403
        with client(server, officer) as api:  # a hold on the mailbox: its copies cannot be deleted on review
            assert api.post(f"/api/orgs/{t.name}/holds", json={"case": "Case 1", "reason": "litigation hold",
                                                                "mailboxes": [rita]}).status_code == 201
        r = c.post(f"{base}/retention/reviews", data={"csrf": tok, "decision": "delete", "item": items[:2]})
        assert r.status_code == 409 and "Case 1" in html.unescape(r.text)
        with client(server, officer) as api:
            assert api.post(f"/api/orgs/{t.name}/holds/Case%201/release", json={"reason": "case closed"}).status_code == 200
        r = c.post(f"{base}/retention/reviews", data={"csrf": tok, "decision": "delete", "item": items[:2]})
        assert r.status_code == 200 and 'id="done"' in r.text
        assert "2" in r.text.split('id="done"')[1].split("</p>")[0]
        r = c.post(f"{base}/retention/reviews", data={"csrf": tok, "decision": "keep", "item": items[2:]})
        assert r.status_code == 200 and 'id="no-reviews"' in r.text
    with client(server, officer) as api:
        assert api.get(f"/api/orgs/{t.name}/retention/reviews").json() == []
    from mailark.catalog.lake import ALIAS

    left = server.rt.lake.execute(f"SELECT item_id FROM {ALIAS}.mailbox_items WHERE org_id = ?",
                                  [server.rt.org(t.name).id]).fetchall()
    assert {r[0] for r in left} == set(items[2:])
