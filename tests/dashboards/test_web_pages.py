"""The web pages over plain HTTP: login redirects, one-time passwords, authorization, headers, forms."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.dashboards.conftest import Server, add_user, client
from tests.dashboards.test_reading_api import _archive
from tests.dashboards.web_helpers import form_token, page_client
from tests.search.mails import message


def test_anonymous_pages_redirect_to_login_and_login_page_is_strict(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("anon")
    with page_client(server) as c:
        for path in (f"/o/{t.name}/mail", f"/o/{t.name}/usage", f"/o/{t.name}/users", "/orgs", "/"):
            r = c.get(path)
            assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
        c.cookies.set("mailark_session", "forged")
        assert c.get(f"/o/{t.name}/mail").status_code == 303
        c.cookies.clear()
        r = c.get("/login")
        assert r.status_code == 200 and 'name="password"' in r.text
        assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none': no script at all
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert c.get("/static/mailark.css").status_code == 200
        r = c.post("/login", data={"login": t.admin, "password": "wrong"})
        assert r.status_code == 401 and "wrong login, password or code" in r.text and 'role="alert"' in r.text
    with client(server) as c:
        paths = c.get("/openapi.json").json()["paths"]
        assert not any(p.startswith(("/o/", "/login", "/orgs")) for p in paths)


def test_one_time_password_forces_the_change_then_mail(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("otp")
    with client(server, t.token) as c:
        r = c.post(f"/api/orgs/{t.name}/users", json={"login": f"olga@{t.name}", "roles": ["Reader"]})
        otp = r.json()["one_time_password"]
    with page_client(server) as c:
        r = c.post("/login", data={"login": f"olga@{t.name}", "password": otp})
        assert r.status_code == 303 and r.headers["location"] == "/password"
        assert c.get(f"/o/{t.name}/mail").headers["location"] == "/password"
        token = form_token(c, "/password")
        assert c.post("/password", data={"old_password": otp, "new_password": "olgas-own-pass-1"}).status_code == 403
        r = c.post("/password", data={"csrf": token, "old_password": otp, "new_password": "olgas-own-pass-1"})
        assert r.status_code == 303 and r.headers["location"] == f"/o/{t.name}/mail"
        assert c.get(f"/o/{t.name}/mail").status_code == 200
        r = c.post("/logout", data={"csrf": token})
        assert r.status_code == 303 and c.get(f"/o/{t.name}/mail").status_code == 303


def test_pages_of_another_organization_are_404_and_reader_sees_no_journal(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = make_tenant("pga"), make_tenant("pgb")
    rita, _ = add_user(server, a, "rita", with_mailbox=True, roles=["Reader"])
    journal = f"journal@{a.name}"
    with client(server, a.token) as c:
        assert c.post(f"/api/orgs/{a.name}/mailboxes", json={"address": journal, "kind": "journal"}).status_code == 201
    ids = _archive(server, a.name, rita, [message(1, subject="Quarterly plan", date=datetime(2024, 3, 1, tzinfo=UTC))])
    jids = _archive(server, a.name, journal, [message(2, subject="journal copy")])
    with page_client(server, b.admin, b.password) as c:
        for path in (f"/o/{a.name}/mail", f"/o/{a.name}/m/{ids[0]}", f"/o/{a.name}/usage", f"/o/{a.name}/users",
                     f"/o/{a.name}/exports"):
            r = c.get(path)
            assert r.status_code == 404 and "Content-Security-Policy" in r.headers, (path, r.status_code)
            assert ids[0] not in r.text and "Quarterly" not in r.text
    with page_client(server, rita, f"pw-rita-{a.name}-long") as c:
        page = c.get(f"/o/{a.name}/mail").text
        assert rita in page and journal not in page
        r = c.get(f"/o/{a.name}/mail", params={"mailbox": journal})
        assert r.status_code == 404 and "journal copy" not in r.text
        assert c.get(f"/o/{a.name}/m/{jids[0]}").status_code == 404
        r = c.get(f"/o/{a.name}/m/{ids[0]}")
        assert r.status_code == 200 and "Quarterly plan" in r.text
        for path in (f"/o/{a.name}/usage", f"/o/{a.name}/users"):
            assert c.get(path).status_code == 403, path
        r = c.get(f"/o/{a.name}/mail", params={"q": "quarterly"})
        assert r.status_code == 200 and f"/o/{a.name}/m/{ids[0]}" in r.text
        r = c.get(f"/o/{a.name}/mail", params={"q": '"unclosed'})
        assert r.status_code == 400 and "cannot be read" in r.text


def test_message_html_is_sandboxed_and_german_is_spoken(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("html")
    rita, _ = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    html = '<p>Hi <b>there</b></p><script>alert(1)</script><img src="https://tracker.example/p.gif">'
    ids = _archive(server, t.name, rita, [message(1, subject="Newsletter", html=html)])
    with page_client(server, rita, f"pw-rita-{t.name}-long") as c:
        r = c.get(f"/o/{t.name}/m/{ids[0]}")
        assert 'sandbox=""' in r.text and "srcdoc=" in r.text and "tracker.example" not in r.text
        assert "alert(1)" not in r.text
        assert "Download .eml" in r.text
        r = c.get(f"/o/{t.name}/m/{ids[0]}", headers={"Accept-Language": "de-DE,de;q=0.9"})
        assert ".eml herunterladen" in r.text and 'lang="de"' in r.text
        r = c.get(f"/o/{t.name}/mail", params={"lang": "de"})
        assert "Postfächer" in r.text and c.cookies.get("mailark_lang") == "de"
        assert "Postfächer" in c.get(f"/o/{t.name}/mail").text  # remembered


def test_organization_requiring_mfa_enrols_through_the_pages(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    import pyotp

    t = make_tenant("mfa")
    mia, _ = add_user(server, t, "mia", with_mailbox=True, roles=["Reader"])
    with client(server, t.token) as c:
        assert c.put(f"/api/orgs/{t.name}/mfa", json={"required": True}).status_code == 200
    with page_client(server, mia, f"pw-mia-{t.name}-long") as c:
        r = c.get(f"/o/{t.name}/mail")
        assert r.status_code == 303 and r.headers["location"] == "/totp"
        token = form_token(c, "/totp")
        page = c.post("/totp", data={"csrf": token}).text
        secret = page.split('id="secret">')[1].split("<")[0]
        r = c.post("/totp/confirm", data={"csrf": token, "code": "000000"})
        assert r.status_code == 401 and c.get(f"/o/{t.name}/mail").status_code == 303
        r = c.post("/totp/confirm", data={"csrf": token, "code": pyotp.TOTP(secret).now()})
        assert r.status_code == 303 and c.get(f"/o/{t.name}/mail").status_code == 200
    with page_client(server) as c:
        r = c.post("/login", data={"login": mia, "password": f"pw-mia-{t.name}-long"})  # step one: the password
        assert r.status_code == 200 and 'id="totp"' in r.text and 'id="password"' not in r.text
        assert f"pw-mia-{t.name}-long" not in r.text  # carried encrypted, never in the page
        pending = r.text.split('name="pending" value="')[1].split('"')[0]
        r = c.post("/login", data={"pending": pending[:-4] + "AAAA", "totp": "123456"})
        assert r.status_code == 401 and "start again" in r.text
        assert c.post("/login", data={"login": mia, "password": "wrong-one"}).status_code == 401  # no second step
        code = pyotp.TOTP(secret).at(__import__("time").time() + 30)
        r = c.post("/login", data={"pending": pending, "totp": code})  # step two: the code
        assert r.status_code == 303 and c.get(r.headers["location"]).status_code == 200


def test_auditor_reads_the_audit_log_with_filters_and_chain_verdict(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("aud")
    ava, _ = add_user(server, t, "ava", roles=["Auditor"])
    with page_client(server) as c:
        c.post("/login", data={"login": t.admin, "password": "not-it"})
    with page_client(server, ava, f"pw-ava-{t.name}-long") as c:
        r = c.get(f"/o/{t.name}/audit")
        assert r.status_code == 200 and "The hash chain is intact" in r.text and "user.create" in r.text
        r = c.get(f"/o/{t.name}/audit", params={"outcome": "failed"})
        assert "auth.login" in r.text and "user.create" not in r.text
        assert c.get(f"/o/{t.name}/users").status_code == 403
    with page_client(server, t.admin, t.password) as c:  # an Admin is not an Auditor
        assert c.get(f"/o/{t.name}/audit").status_code == 403


def test_msp_operator_sees_its_organizations_on_one_page(server: Server, make_tenant, operator_token: str) -> None:  # type: ignore[no-untyped-def]
    from tests.dashboards.conftest import OPERATOR_PASSWORD

    a, b = make_tenant("mspa"), make_tenant("mspb")
    with page_client(server, "msp", OPERATOR_PASSWORD) as c:
        r = c.get("/")
        assert r.headers["location"] == "/orgs"
        page = c.get("/orgs").text
        assert f">{a.name}<" in page and f">{b.name}<" in page
        assert c.get(f"/o/{a.name}/usage").status_code == 200
    with page_client(server, a.admin, a.password) as c:
        assert c.get("/orgs").status_code == 403


def test_usage_page_shows_top_mailboxes_and_mail_per_day(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.metering import meter_org

    t = make_tenant("top")
    rita, _ = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    sam, _ = add_user(server, t, "sam", with_mailbox=True, roles=["Reader"])
    _archive(server, t.name, rita, [message(i, subject=f"r{i}") for i in range(3)])
    _archive(server, t.name, sam, [message(10, subject="s", body="x" * 50_000)])
    meter_org(server.rt, t.name)
    with page_client(server, t.admin, t.password) as c:
        page = c.get(f"/o/{t.name}/usage").text
        top_size = page.split('id="top-size"')[1].split("</table>")[0]
        top_count = page.split('id="top-count"')[1].split("</table>")[0]
        assert top_size.index(sam) < top_size.index(rita)  # sam's one big message outweighs
        assert top_count.index(rita) < top_count.index(sam) and ">3<" in top_count
        assert 'id="per-day"' in page and "max 4" in page


def test_login_goes_back_only_to_our_own_pages_and_refuses_foreign_forms(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("nxt")
    with page_client(server) as c:
        for bad in ("//evil.example/x", "/\\evil.example", "https://evil.example/"):
            r = c.post("/login", data={"login": t.admin, "password": t.password, "next": bad})
            assert r.status_code == 303 and r.headers["location"] == f"/o/{t.name}/mail", bad
        r = c.post("/login", data={"login": t.admin, "password": t.password, "next": f"/o/{t.name}/usage"})
        assert r.headers["location"] == f"/o/{t.name}/usage"
        r = c.post("/login", data={"login": t.admin, "password": t.password},
                   headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and "another site" in r.text


def test_search_filters_become_the_query_and_pages_are_paged(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    from tests.search.mails import PDF

    t = make_tenant("flt")
    rita, _ = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    raws = [message(i, subject=f"report {i}", date=datetime(2023 + i % 2, 1 + i % 12, 1, tzinfo=UTC)) for i in range(30)]
    raws.append(message(99, subject="report with file", date=datetime(2024, 6, 1, tzinfo=UTC),
                        attachments=[("a.pdf", PDF, b"%PDF-1.4")]))
    _archive(server, t.name, rita, raws)
    with page_client(server, rita, f"pw-rita-{t.name}-long") as c:
        def total(**params: str) -> int:
            r = c.get(f"/o/{t.name}/mail", params={"q": "report", **params})
            assert r.status_code == 200, r.text
            return int(r.text.split('id="total">')[1].split("<")[0])

        assert total() == 31
        assert total(attachment="1") == 1
        assert total(after="2024-01-01") == 16  # odd i: 2024, plus the one with the file
        assert total(after="2024-01-01", before="2024-03-01") == 3  # i = 1, 13, 25: February 2024
        assert total(after="not a date") == 31  # ignored, not an error
        first = c.get(f"/o/{t.name}/mail", params={"q": "report"}).text
        assert 'id="next"' in first and "Page 1 / 2" in first
        second = c.get(f"/o/{t.name}/mail", params={"q": "report", "page": "2"}).text
        assert second.count('class="open"') == 6 and 'id="prev"' in second
        form = c.get(f"/o/{t.name}/mail", params={"q": "report", "attachment": "1"}).text
        assert 'name="q" value="report has:attachment"' in form  # the export takes exactly this search


def test_export_a_folder_from_the_page_follows_the_export_rules(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("exf")
    rita, _ = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    sam, _ = add_user(server, t, "sam", with_mailbox=True, roles=["Reader"])
    _archive(server, t.name, rita, [message(1, subject="one")], folder="INBOX/Keep")
    with page_client(server, rita, f"pw-rita-{t.name}-long") as c:
        token = form_token(c, f"/o/{t.name}/mail?mailbox={rita}&folder=INBOX/Keep")
        r = c.post(f"/o/{t.name}/exports", data={"csrf": token, "scope": "mailbox", "mailbox": rita, "folder": "INBOX/Keep"})
        assert r.status_code == 303 and "started=" in r.headers["location"]
        r = c.post(f"/o/{t.name}/exports", data={"csrf": token, "scope": "mailbox", "mailbox": sam})
        assert r.status_code == 404 and "Not found" in r.text  # not hers to export
        assert c.post(f"/o/{t.name}/exports", data={"csrf": token, "scope": "all", "q": ""}).status_code == 400
        wait_for_exports(c, t.name)
        page = c.get(f"/o/{t.name}/exports").text
        assert page.count('class="download"') == 1
        export_id = page.split('/exports/')[1].split('/')[0]
        r = c.post(f"/o/{t.name}/exports/{export_id}/delete", data={"csrf": token})
        assert r.status_code == 303
        assert "deleted" in c.get(f"/o/{t.name}/exports").text.split('class="status">')[1]
        assert c.post(f"/o/{t.name}/exports/{export_id}/explode", data={"csrf": token}).status_code == 400


def wait_for_exports(c, org: str) -> None:  # type: ignore[no-untyped-def]
    """Exports run in a thread of the server: let them finish before the test (and the process) ends."""
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = c.get(f"/o/{org}/exports").text.split('class="status">')[1:]
        if rows and all(r.startswith("done") or r.startswith("failed") for r in rows):
            assert all(r.startswith("done") for r in rows), rows
            return
        time.sleep(0.2)
    raise AssertionError("the export did not finish")
