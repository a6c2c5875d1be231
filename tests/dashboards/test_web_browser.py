"""The web pages in a real browser: Debian's chromium driven by Playwright (never `playwright install`).

One scenario per test, as a user would click through it: log in with TOTP, search, open a message,
download its .eml, export a selection, see the quota warning, an admin refused beyond the licence,
a Reader refused a journal mailbox. Set MAILARK_SCREENSHOTS=<dir> to keep screenshots of the pages
(docs/screenshots/ is made so).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest

from tests.dashboards.conftest import CSRF, Server, add_user, client
from tests.dashboards.test_reading_api import _archive
from tests.search.mails import PDF, message, pdf_with

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="chromium is not installed "
                                "(scripts/install-test-deps.sh installs it)")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server: Server):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=server.url, accept_downloads=True, locale="en-US",
                                  viewport={"width": 1280, "height": 800})
    p = context.new_page()
    p.set_default_timeout(15_000)
    yield p
    context.close()


def shot(page, name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = Path(os.environ.get("MAILARK_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)


def login(page, who: str, password: str, code: str | None = None) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login")
    page.fill("#login", who)
    page.fill("#password", password)
    page.click("#submit")
    if code:  # the second step asks for the code
        page.fill("#totp", code)
        page.click("#submit")


def test_totp_login_search_read_download_and_export(page, server: Server, make_tenant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("web")
    mia, token = add_user(server, t, "mia", with_mailbox=True, roles=["Reader"])
    with client(server, token) as c:  # mia sets up TOTP (the API way; the page for it is still missing)
        secret = c.post("/api/auth/totp").json()["secret"]
        assert c.post("/api/auth/totp/confirm", json={"code": pyotp.TOTP(secret).now()}).status_code == 200
    raws = [message(1, subject="Quarterly plan", body="Numbers for the quarter.", date=datetime(2024, 3, 1, tzinfo=UTC),
                    attachments=[("plan.pdf", PDF, pdf_with("Orion budget"))]),
            message(2, subject="Newsletter", html="<h1>News</h1><p>Read <b>this</b></p><script>alert(1)</script>",
                    date=datetime(2024, 4, 1, tzinfo=UTC)),
            message(3, subject="Lunch", body="Quarterly lunch on Friday", date=datetime(2024, 5, 1, tzinfo=UTC))]
    ids = _archive(server, t.name, mia, raws)
    _archive(server, t.name, mia, [message(4, subject="Old plans", date=datetime(2023, 1, 1, tzinfo=UTC))],
             folder="INBOX/Projects")

    login(page, mia, f"pw-mia-{t.name}-wrong")
    assert "wrong login, password or code" in page.inner_text("[role=alert]")
    shot(page, "login", tmp_path)
    login(page, mia, f"pw-mia-{t.name}-long", "000000")  # the password, then a wrong code: asked again
    assert "wrong login, password or code" in page.inner_text("[role=alert]") and page.locator("#password").count() == 0
    page.fill("#totp", pyotp.TOTP(secret).at(time.time() + 30))
    page.click("#submit")
    page.wait_for_url(f"**/o/{t.name}/mail")
    assert "Projects" in page.inner_text("aside") and mia in page.inner_text("aside")
    page.click(f"aside a[href*='mailbox={mia.replace('@', '%40')}']")
    assert page.locator("table.messages tbody tr").count() == 4  # the whole mailbox
    page.click("aside a:text-is('Projects')")
    assert page.locator("a.open").all_inner_texts() == ["Old plans"]  # one folder
    page.click("aside a:text-is('INBOX')")
    shot(page, "mail", tmp_path)

    page.fill("#q", "quarterly")
    page.click("#search")
    assert page.inner_text("#total") == "2"
    assert [s.strip() for s in page.locator("a.open").all_inner_texts()] == ["Lunch", "Quarterly plan"]
    page.fill("#q", "subject:newsletter")
    page.click("#search")
    page.click("a.open")
    assert page.inner_text("#subject") == "Newsletter"
    frame = page.frame_locator("#body")
    assert frame.locator("b").inner_text() == "this"
    assert page.get_attribute("#body", "sandbox") == ""
    shot(page, "message", tmp_path)
    with page.expect_download() as dl:
        page.click("#eml")
    data = Path(dl.value.path()).read_bytes()
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(raws[1]).hexdigest()

    page.goto(f"/o/{t.name}/mail?q=quarterly")
    page.locator("input[name=item]").first.check()
    page.click("#export-selected")
    page.wait_for_url(f"**/o/{t.name}/exports?started=*")
    assert "Export started" in page.inner_text("#started")
    deadline = time.monotonic() + 20
    while "done" not in page.inner_text("td.status") and time.monotonic() < deadline:
        time.sleep(0.3)
        page.reload()
    assert "done" in page.inner_text("td.status")
    with client(server, token) as c:
        jobs = c.get(f"/api/orgs/{t.name}/exports").json()
        assert len(jobs) == 1 and jobs[0]["messages"] == 1 and jobs[0]["requested_by"] == mia
        audit = c.get(f"/api/orgs/{t.name}/audit")  # a Reader may not read the audit log
        assert audit.status_code == 403
    from mailark.control.audit import list_events
    from mailark.control.principals import Principal

    with server.rt.session() as s:
        reads = [e for e in list_events(s, Principal.deployment_operator(), t.name, after_seq=0, limit=1000)
                 if e.action == "content.read" and e.target == ids[1]]
    assert len(reads) == 2  # the message view and the .eml download were audited
    shot(page, "exports", tmp_path)
    page.click("#logout")
    page.wait_for_url("**/login")


def test_admin_sees_quota_warning_and_licence_refusal(page, server: Server, make_tenant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.metering import meter_org
    from tests.metering.conftest import add_object

    t = make_tenant("quota", users=2, storage_gb=10)
    add_user(server, t, "una", roles=["Reader"])
    org_id = server.rt.org(t.name).id
    now = datetime.now(UTC)
    add_object(server.rt, org_id, int(6 * 10**9))
    meter_org(server.rt, t.name, now=now - timedelta(days=3))
    add_object(server.rt, org_id, int(3.3 * 10**9))
    meter_org(server.rt, t.name, now=now)

    login(page, t.admin, t.password)
    page.wait_for_url(f"**/o/{t.name}/mail")
    page.click("text=Usage")
    assert "93 % full" in page.inner_text("#warnings")
    assert page.inner_text("#storage") == "9.3 GB of 10 GB (93 %)" and page.inner_text("#users") == "2 of 2"
    assert page.locator("#chart polyline.used").count() == 1
    assert "runs out around" in page.inner_text("#projection")
    shot(page, "usage", tmp_path)

    page.click("text=Users")
    page.fill("#new-login", f"vera@{t.name}")
    page.click("#add")
    refusal = page.inner_text("#refused")
    assert "Refused" in refusal and "licen" in refusal.lower()
    assert f"vera@{t.name}" not in page.inner_text("#user-list")
    shot(page, "users", tmp_path)
    page.click("text=Mailboxes")
    assert "2 / 2" in page.inner_text("#licence")
    shot(page, "mailboxes", tmp_path)

    page.goto(f"/o/{t.name}/usage?lang=de")
    assert "Speicher" in page.inner_text("main") and "Warnungen" not in page.inner_text("#warnings")
    page.goto(f"/o/{t.name}/usage?lang=en")

    from tests.dashboards.conftest import OPERATOR_PASSWORD

    page.click("#logout")
    login(page, "msp", OPERATOR_PASSWORD)  # the MSP operator: every organization on one page
    page.wait_for_url("**/orgs")
    row = page.locator("#orgs tr", has_text=t.name)
    assert "93 % full" in row.inner_text() and "2 / 2" in row.inner_text()
    shot(page, "overview", tmp_path)

    page.goto(f"/o/{t.name}/licence")  # the operator raises the licence the admin ran into
    page.fill("#lic-users", "3")
    page.click("#lic-save")
    assert "of 3 licensed users" in page.inner_text("#licence-users")
    shot(page, "licence", tmp_path)
    page.goto(f"/audit?org={t.name}&action=licence.")  # the deployment's audit log, one organization's licence events
    events = page.inner_text("#events")
    assert "licence.change" in events and t.name in events
    assert "intact" in page.inner_text("#chain")
    shot(page, "audit", tmp_path)


def test_reader_cannot_open_a_journal_mailbox(page, server: Server, make_tenant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("jrn")
    rex, _ = add_user(server, t, "rex", with_mailbox=True, roles=["Reader"])
    journal = f"journal@{t.name}"
    with client(server, t.token) as c:
        assert c.post(f"/api/orgs/{t.name}/mailboxes", json={"address": journal, "kind": "journal"},
                      headers=CSRF).status_code == 201
    jid = _archive(server, t.name, journal, [message(9, subject="Journal secret")])[0]
    login(page, rex, f"pw-rex-{t.name}-long")
    page.wait_for_url(f"**/o/{t.name}/mail")
    assert journal not in page.inner_text("aside")
    r = page.goto(f"/o/{t.name}/mail?mailbox={journal}")
    assert r.status == 404 and "Not found" in page.inner_text("[role=alert]")
    r = page.goto(f"/o/{t.name}/m/{jid}")
    assert r.status == 404 and "Journal secret" not in page.content()


def test_admin_adds_an_imap_source_and_tests_it(page, server: Server, make_tenant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.peers.dovecot import find_dovecot, remove, start_dovecot

    if find_dovecot() is None:
        pytest.skip("dovecot is not installed (scripts/install-test-deps.sh installs dovecot-imapd)")
    t = make_tenant("bsrc")
    user = f"ann@{t.name}"
    dovecot = start_dovecot({user: "ann-imap-password"})
    try:
        login(page, t.admin, t.password)
        page.goto(f"/o/{t.name}/sources")
        page.click("#add-imap-account summary")  # the form opens without script (<details>)
        form = page.locator("#imap-account-form")
        form.locator("input[name=name]").fill("office")
        form.locator("input[name=host]").fill("127.0.0.1")
        form.locator("input[name=port]").fill(str(dovecot.imaps_port))
        form.locator("textarea[name=ca_pem]").fill(dovecot.cert.read_text())
        form.locator("input[name=username]").fill(user)
        form.locator("input[name=mailbox]").fill(user)
        form.locator("input[name=password]").fill("ann-imap-password")
        form.locator("button[type=submit]").click()
        page.wait_for_selector("#added")
        assert "ann-imap-password" not in page.content()
        page.locator("tr[data-source=office] button.test").click()
        page.wait_for_selector("#probe")
        assert "Connection works" in page.inner_text("#probe") and f"logged in as {user}" in page.inner_text("#probe")
        shot(page, "sources", tmp_path)
        page.click("tr[data-source=office] a.edit")
        assert page.locator("#edit-form input[name=host]").input_value() == "127.0.0.1"
        assert page.locator("#edit-form input[name=password]").input_value() == ""
        shot(page, "source-edit", tmp_path)
    finally:
        remove(dovecot)
