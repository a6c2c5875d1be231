"""Exports over the REST API: start, progress, streamed download of the decrypted zip, rules, isolation."""

from __future__ import annotations

import csv
import hashlib
import io
import time
import zipfile
from pathlib import Path

from tests.dashboards.conftest import Server, add_user, client


def originals(src: Path) -> set[str]:
    from mailark.sources.files import iter_source

    return {hashlib.sha256(m.raw).hexdigest() for m in iter_source(src, None)}


def wait_done(c, url: str, timeout: float = 60) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        doc = c.get(url).json()
        if doc["status"] not in ("queued", "running"):
            return doc
        assert time.monotonic() < deadline, doc
        time.sleep(0.1)


def test_export_over_the_api(server: Server, make_tenant, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.sources.files.importing import run_import

    t = make_tenant("exp")
    rita, rita_token = add_user(server, t, "rita", with_mailbox=True)  # a Reader of her own mailbox only
    bob, _ = add_user(server, t, "bob", with_mailbox=True)
    _, carl_token = add_user(server, t, "carl", roles=["Compliance"])
    run_import(server.rt, t.name, rita, [corpus / "cpython-test_email"])
    run_import(server.rt, t.name, bob, [corpus / "tnef"])
    base = f"/api/orgs/{t.name}/exports"

    with client(server, carl_token) as carl:
        r = carl.post(base, json={})
        assert r.status_code == 202, r.text
        assert r.json()["kind"] == "full" and r.json()["status"] == "queued"
        doc = wait_done(carl, f"{base}/{r.json()['id']}")
        assert doc["status"] == "done" and doc["progress"] == 1.0 and doc["items_done"] == doc["items_total"] > 0
        with carl.stream("GET", f"{base}/{doc['id']}/download") as resp:
            assert resp.status_code == 200 and resp.headers["content-type"] == "application/zip"
            body = b"".join(resp.iter_bytes())
        zf = zipfile.ZipFile(io.BytesIO(body))
        manifest = list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode())))
        known = originals(corpus / "cpython-test_email") | originals(corpus / "tnef")
        for row in manifest:
            assert hashlib.sha256(zf.read(row["path"])).hexdigest() == row["sha256"]
            if row["kind"] == "message":
                assert row["sha256"] in known
        assert {row["mailbox"] for row in manifest} == {rita, bob}
        # once a month for the full archive
        r = carl.post(base, json={})
        assert r.status_code == 409 and "already had its full-archive export this month" in r.json()["error"]
        assert carl.post(base, json={"incremental": True}).status_code == 202
        full_id = doc["id"]

    with client(server, rita_token) as rc:
        # a Reader exports only what she may read: her own mailbox, whatever she asks for
        assert rc.post(base, json={"mailboxes": [bob]}).status_code == 404
        r = rc.post(base, json={})
        assert r.status_code == 202 and r.json()["kind"] == "selection" and r.json()["mailboxes"] == [rita]
        mine = wait_done(rc, f"{base}/{r.json()['id']}")
        zf = zipfile.ZipFile(io.BytesIO(rc.get(f"{base}/{mine['id']}/download").content))
        rows = list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode())))
        assert rows and {row["mailbox"] for row in rows} == {rita}
        # she sees her exports only, and cannot reach the full one
        assert [e["id"] for e in rc.get(base).json()] == [mine["id"]]
        assert rc.get(f"{base}/{full_id}").status_code == 404
        assert rc.get(f"{base}/{full_id}/download").status_code == 404

    with client(server, t.token) as admin:
        # the Admin sees every export but may not read the mail in it
        assert len(admin.get(base).json()) == 3
        r = admin.get(f"{base}/{full_id}/download")
        assert r.status_code == 403 and "may not read" in r.json()["error"]
        r = admin.delete(f"{base}/{full_id}")
        assert r.status_code == 200 and r.json()["status"] == "deleted"
        assert not server.rt.store.exists(f"orgs/{_org_id(server, t.name)}/exports/{full_id}.zip")

    with client(server, carl_token) as carl:
        r = carl.get(f"{base}/{full_id}/download")
        assert r.status_code == 409 and "deleted" in r.json()["error"]

    from mailark.control.audit import list_events
    from mailark.control.principals import Principal

    with server.rt.control() as s:
        actions = [e.action for e in list_events(s, Principal.deployment_operator(), t.name, limit=1000)]
    assert actions.count("content.export") == 3 and actions.count("content.export.download") == 2
    assert "export.delete" in actions


def _org_id(server: Server, name: str) -> str:
    return server.rt.org(name).id
