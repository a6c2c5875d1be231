"""The audit log pages and API over HTTP: SQL filters, Older/Newer cursors, the CSV download (audited),
the deployment-wide operator page, tenancy, the chain verdict, German labels."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.dashboards.conftest import OPERATOR_PASSWORD, Server, Tenant, add_user, client
from tests.dashboards.web_helpers import page_client

ROW = re.compile(r'<tr><td>(\d+)</td><td>[^<]*</td>(?:<td class="org">([^<]*)</td>)?<td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>')
LINK = re.compile(r'<a href="([^"]+)" id="(older|newer|csv)"')
DAY = datetime(2026, 11, 2, 10, tzinfo=UTC)


def _rows(page: str) -> list[dict[str, Any]]:
    return [{"seq": int(m[0]), "org": html.unescape(m[1]) if m[1] else None, "actor": html.unescape(m[2]),
             "action": html.unescape(m[3]), "target": html.unescape(m[4])} for m in ROW.findall(page)]


def _links(page: str) -> dict[str, str]:
    return {kind: html.unescape(href) for href, kind in LINK.findall(page)}


def _seed(server: Server, t: Tenant, n: int) -> list[int]:
    """n events of t: every 3rd a failed login of eve, the rest mail reads, one a day apart from the rest."""
    from sqlalchemy import select

    from mailark.control import audit
    from mailark.control.models import Organization
    from mailark.control.principals import Principal

    seqs = []
    with server.rt.session() as s:
        org_id = s.scalar(select(Organization.id).where(Organization.name == t.name))
        eve = Principal("user", "eve", f"eve@{t.name}", org_id=org_id)
        for i in range(n):
            failed = i % 3 == 0
            ev = audit.record(s, eve, "auth.login" if failed else "mail.read", org_id=org_id,
                              target=f"{t.name}-item-{i:04d}", outcome="failed" if failed else "ok",
                              now=DAY + timedelta(days=i // 100, seconds=i))
            seqs.append(ev.seq)
    return seqs


def _org_events(server: Server, org: str | None) -> list[Any]:
    from mailark.control import audit
    from mailark.control.principals import Principal

    with server.rt.control() as s:
        return list(audit.list_events(s, Principal.deployment_operator(), org, newest_first=True, limit=10_000))


def _auditor(server: Server, t: Tenant, name: str = "ava") -> tuple[str, str]:
    login, _ = add_user(server, t, name, roles=["Auditor"])
    return login, f"pw-{name}-{t.name}-long"


def test_auditor_pages_newest_first_with_older_and_newer_links(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("audpg")
    login, pw = _auditor(server, t)
    _seed(server, t, 230)
    with page_client(server, login, pw) as c:
        want = [e.seq for e in _org_events(server, t.name)]  # after the login: it is an event too
        seen, url, pages = [], f"/o/{t.name}/audit", []
        while url:
            r = c.get(url)
            assert r.status_code == 200, r.text
            rows = [x["seq"] for x in _rows(r.text)]
            seen += rows
            pages.append(rows)
            url = _links(r.text).get("older")
        assert seen == want, "newest first, every event once"
        assert [len(p) for p in pages] == [100, 100, len(want) - 200]
        _seed(server, t, 5)  # appended while paging: the cursors still neither repeat nor skip
        back = c.get(f"/o/{t.name}/audit", params={"before": pages[2][0] + 1}).text
        assert [x["seq"] for x in _rows(back)] == pages[2]
        newer = _links(back)["newer"]
        assert "after=" in newer
        up = c.get(newer).text
        assert [x["seq"] for x in _rows(up)] == pages[1]
        above = c.get(_links(up)["newer"]).text  # the 100 just above, though 5 more came since
        assert [x["seq"] for x in _rows(above)] == pages[0]
        top = c.get(_links(above)["newer"]).text  # then the newest page as it is now, with the 5 new events
        top_rows = [x["seq"] for x in _rows(top)]
        assert len(top_rows) == 100 and top_rows[5:] == pages[0][:95] and "newer" not in _links(top)


def test_filters_narrow_the_page_and_keep_in_the_cursor_links(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("audft")
    login, pw = _auditor(server, t)
    _seed(server, t, 240)
    base = f"/o/{t.name}/audit"
    with page_client(server, login, pw) as c:
        everything = _org_events(server, t.name)  # after the login: it is an event too
        cases = [
            ({"action": "auth."}, lambda e: e.action.startswith("auth.")),
            ({"action": "mail.read"}, lambda e: e.action == "mail.read"),
            ({"actor": login}, lambda e: e.actor == login),
            ({"outcome": "failed"}, lambda e: e.outcome == "failed"),
            ({"target": "ITEM-020"}, lambda e: "item-020" in e.target),
            ({"since": "2026-11-03", "until": "2026-11-03"}, lambda e: e.at.startswith("2026-11-03")),
            ({"action": "auth.login", "outcome": "failed", "until": "2026-11-02"},
             lambda e: e.action == "auth.login" and e.outcome == "failed" and e.at < "2026-11-03"),
        ]
        for params, keep in cases:
            want = [e.seq for e in everything if keep(e)]
            assert want, params
            got, url = [], base + "?" + str(httpx.QueryParams(params))
            while url:
                r = c.get(url)
                assert r.status_code == 200, (params, r.text)
                got += [x["seq"] for x in _rows(r.text)]
                links = _links(r.text)
                for link in (links["csv"], links.get("older", links["csv"])):
                    assert dict(httpx.URL(link).params) | {"before": ""} == params | {"before": ""}, link
                url = links.get("older")
            assert got == want, params
        r = c.get(base, params={"target": "nothing-like-this"})
        assert _rows(r.text) == [] and 'id="none"' in r.text
        r = c.get(base, params={"since": "yesterday"})
        assert r.status_code == 400 and "not a date: use YYYY-MM-DD" in r.text and 'id="filters"' in r.text


def test_an_auditor_sees_only_its_organization_and_others_are_refused(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = make_tenant("auda"), make_tenant("audb")
    login, pw = _auditor(server, a)
    _seed(server, a, 3)
    _seed(server, b, 3)
    b_login, b_pw = _auditor(server, b, "bea")
    with page_client(server, login, pw) as c:
        for params in ({}, {"target": b.name}, {"actor": f"eve@{b.name}"}, {"org": b.name}, {"action": "auth."},
                       {"outcome": "failed"}, {"since": "2000-01-01"}):
            r = c.get(f"/o/{a.name}/audit", params=params)
            rows = _rows(r.text)
            assert r.status_code == 200 and not any(b.name in str(x) for x in rows), params
            assert {x["seq"] for x in rows} <= {e.seq for e in _org_events(server, a.name)}, params
            r = c.get(f"/o/{a.name}/audit.csv", params=params)
            lines = list(csv.DictReader(io.StringIO(r.text)))
            assert r.status_code == 200 and {x["organization"] for x in lines} <= {a.name}, params
            assert {int(x["seq"]) for x in lines} <= {e.seq for e in _org_events(server, a.name)}, params
        for path in (f"/o/{b.name}/audit", f"/o/{b.name}/audit.csv", "/o/no-such-org/audit"):
            assert c.get(path).status_code == 404, path
        assert c.get("/audit").status_code == 403 and c.get("/audit.csv").status_code == 403
    with page_client(server, a.admin, a.password) as c:  # an Admin is not an Auditor
        assert c.get(f"/o/{a.name}/audit").status_code == 403
        assert c.get(f"/o/{a.name}/audit.csv").status_code == 403
        assert c.get(f"/o/{b.name}/audit").status_code == 404
    assert not [e for e in _org_events(server, a.name) if e.action == "audit.export" and e.actor == a.admin]
    with page_client(server, b_login, b_pw) as c:
        assert c.get(f"/o/{a.name}/audit", params={"org": a.name}).status_code == 404


def test_csv_download_has_the_filtered_rows_and_is_audited(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("audcsv")
    login, pw = _auditor(server, t)
    _seed(server, t, 1600)  # more than one chunk (1,000) of the stream
    from sqlalchemy import select

    from mailark.control import audit
    from mailark.control.models import Organization
    from mailark.control.principals import Principal

    with server.rt.session() as s:
        org_id = s.scalar(select(Organization.id).where(Organization.name == t.name))
        audit.record(s, Principal("user", "x", "mallory@x"), "mail.read", org_id=org_id, target="=HYPERLINK(\"x\")")
    with page_client(server, login, pw) as c:
        want = [e for e in _org_events(server, t.name) if e.outcome == "ok"]
        r = c.get(f"/o/{t.name}/audit.csv", params={"outcome": "ok"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"] and t.name in r.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert [int(x["seq"]) for x in rows] == [e.seq for e in want] and len(rows) > 1000
        assert {x["outcome"] for x in rows} == {"ok"} and {x["organization"] for x in rows} == {t.name}
        assert [x["target"] for x in rows if x["actor"] == "mallory@x"] == ["'=HYPERLINK(\"x\")"], "formula defused"
        by_seq = {e.seq: e for e in want}
        assert all((x["actor"], x["action"], x["at"]) == (by_seq[int(x["seq"])].actor, by_seq[int(x["seq"])].action,
                                                          by_seq[int(x["seq"])].at) for x in rows[1:])
    exports = [e for e in _org_events(server, t.name) if e.action == "audit.export"]
    assert len(exports) == 1 and exports[0].actor == login and exports[0].details["filters"] == {"outcome": "ok"}
    assert exports[0].details["up_to_seq"] >= want[0].seq and exports[0].seq not in {int(x["seq"]) for x in rows}


def test_operator_page_shows_every_organization_and_filters_by_one(server: Server, make_tenant, operator_token: str) -> None:  # type: ignore[no-untyped-def]
    a, b = make_tenant("audopa"), make_tenant("audopb")
    _seed(server, a, 4)
    _seed(server, b, 4)
    with page_client(server, "msp", OPERATOR_PASSWORD) as c:
        assert 'href="/audit"' in c.get("/orgs").text, "the operator's navigation links the page"
        r = c.get("/audit", params={"action": "auth.login", "outcome": "failed"})
        assert r.status_code == 200 and "The hash chain is intact" in r.text
        orgs = {x["org"] for x in _rows(r.text)}
        assert {a.name, b.name} <= orgs
        assert f'<option value="{a.name}"' in r.text
        want = [e.seq for e in _org_events(server, b.name) if e.action == "auth.login" and e.outcome == "failed"]
        r = c.get("/audit", params={"org": b.name, "action": "auth.login", "outcome": "failed"})
        assert [x["seq"] for x in _rows(r.text)] == want and {x["org"] for x in _rows(r.text)} == {b.name}
        head = re.search(r'<code class="small">([0-9a-f]{64})</code>', r.text)
        assert head, "operators see the head hash (to anchor outside the database)"
        r = c.get("/audit.csv", params={"org": a.name})
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert r.status_code == 200 and [int(x["seq"]) for x in rows] == [e.seq for e in _org_events(server, a.name)
                                                                             if e.action != "audit.export"]
        assert c.get("/audit", params={"org": "no-such-org"}).status_code == 404
    exports = [e for e in _org_events(server, None) if e.action == "audit.export" and e.actor == "msp"]
    assert exports[-1].details["filters"] == {"org": a.name} and exports[-1].target == a.name
    with page_client(server, a.admin, a.password) as c:
        assert c.get("/audit").status_code == 403 and 'href="/audit"' not in c.get(f"/o/{a.name}/mail").text


def test_chain_verdict_and_german_labels(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("audde")
    login, pw = _auditor(server, t)
    _seed(server, t, 120)
    with page_client(server, login, pw) as c:
        r = c.get(f"/o/{t.name}/audit")
        assert 'id="chain"' in r.text and "The hash chain is intact" in r.text
        assert not re.search(r"[0-9a-f]{64}", r.text), "an organization's auditor sees the verdict, not deployment figures"
        r = c.get(f"/o/{t.name}/audit", params={"lang": "de"})
        for label in ("Die Hash-Kette ist intakt", "Ältere", "Als CSV herunterladen", "Ab Datum", "Bis Datum",
                      "Aktion", "Ergebnis", "Ziel enthält"):
            assert label in r.text, label
        assert "Older" not in r.text and "Download as CSV" not in r.text


def test_api_filters_cursor_link_and_bad_dates(server: Server, make_tenant, operator_token: str) -> None:  # type: ignore[no-untyped-def]
    a, b = make_tenant("audapi"), make_tenant("audapib")
    _, token = add_user(server, a, "api-aud", roles=["Auditor"])
    _seed(server, a, 30)
    _seed(server, b, 3)
    base = f"/api/orgs/{a.name}/audit"
    failed = [e.seq for e in _org_events(server, a.name) if e.action == "auth.login" and e.outcome == "failed"]
    with client(server, token) as c:
        r = c.get(base, params={"action": "auth.", "outcome": "failed", "order": "newest", "limit": 4})
        assert r.status_code == 200 and [e["seq"] for e in r.json()] == failed[:4]
        got = [e["seq"] for e in r.json()]
        while "link" in r.headers:
            nxt = re.match(r'<([^>]+)>; rel="next"', r.headers["link"])
            assert nxt and "outcome=failed" in nxt[1]
            r = c.get(nxt[1])
            got += [e["seq"] for e in r.json()]
        assert got == failed
        up = c.get(base, params={"outcome": "failed", "after": failed[-1], "limit": 3}).json()  # followers
        assert [e["seq"] for e in up] == sorted(failed)[1:4]
        r = c.get(base, params={"since": "2026-11-02", "until": "2026-11-02"})
        assert r.status_code == 200 and r.json() and all(e["at"].startswith("2026-11-02") for e in r.json())
        for bad in ({"since": "27.11.2026"}, {"until": "soon"}):
            r = c.get(base, params=bad)
            assert r.status_code == 422 and "not a date: use YYYY-MM-DD" in r.json()["error"], r.text
        assert c.get(f"/api/orgs/{b.name}/audit", params={"action": "auth."}).status_code == 404
        assert c.get("/api/audit", params={"org": b.name}).status_code == 403
    with client(server, operator_token) as c:
        r = c.get("/api/audit", params={"org": b.name, "order": "newest", "limit": 1000})
        assert r.status_code == 200 and [e["seq"] for e in r.json()] == [e.seq for e in _org_events(server, b.name)]
        assert c.get("/api/audit", params={"org": "no-such-org"}).status_code == 404
