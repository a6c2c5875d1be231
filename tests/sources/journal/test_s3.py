"""The endpoint and the drain with the object store on S3 (moto's real S3 protocol server)."""

from __future__ import annotations

import smtplib
import uuid
from pathlib import Path

import pytest

from mailark.config.settings import Settings, reset_settings_cache
from tests.sources.journal.conftest import DOMAIN, archived
from tests.sources.journal.reports import corpus_message, make_report


@pytest.fixture
def s3_rt(jhome: Settings, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from mailark.runtime import open_runtime

    monkeypatch.setenv("MAILARK_OBJECT_STORE", "s3")
    monkeypatch.setenv("MAILARK_S3__ENDPOINT", moto_endpoint)
    monkeypatch.setenv("MAILARK_S3__ACCESS_KEY", "testing")
    monkeypatch.setenv("MAILARK_S3__SECRET_KEY", "testing-secret")
    monkeypatch.setenv("MAILARK_S3__BUCKET", f"mailark-{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("MAILARK_S3__SECURE", "false")
    reset_settings_cache()
    rt = open_runtime(Settings())
    yield rt
    rt.close()


def test_drops_on_s3(s3_rt, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.mailboxes import create_mailbox
    from mailark.control.identity import add_domain
    from mailark.control.orgs import create_org
    from mailark.control.principals import Principal
    from mailark.sources.journal import drops
    from mailark.sources.journal.drain import drain_all
    from mailark.sources.journal.endpoint import JournalEndpoint
    from mailark.sources.journal.profiles import add_journal

    rt = s3_rt
    op = Principal.deployment_operator()
    with rt.session() as s:
        org, _ = create_org(s, "acme", rt.master_key)
        add_domain(s, op, org, "acme.com")
        create_mailbox(s, op, org, "bob@acme.com")
        view, _ = add_journal(s, op, org, rt.master_key, DOMAIN, allow_networks=["127.0.0.0/8"])
        s.expunge(org)
    original = corpus_message(corpus, "cpython-test_email/msg_07.txt")
    report = make_report(original, ["Sender: bob@acme.com", "Subject: s", "Message-Id: <x@y>", "To: a@fabrikam.com"])
    with JournalEndpoint(rt.settings, host="127.0.0.1", port=0, runtime=rt) as ep:
        assert ep.address is not None
        with smtplib.SMTP("127.0.0.1", ep.address[1], timeout=10) as c:
            assert c.sendmail("", [view.config["address"]], report) == {}
    assert len(drops.pending(rt.store, org.id)) == 1
    assert rt.store.describe().startswith("S3 bucket")
    [res] = drain_all(rt)
    assert res.removed == 1 and drops.pending(rt.store, org.id) == []
    assert archived(rt, org, "bob@acme.com") == [original]
