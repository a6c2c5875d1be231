"""The journal-drain flow under a real Prefect server (the test harness)."""

from __future__ import annotations

import smtplib
from pathlib import Path


from mailark.sources.journal import drops
from tests.sources.journal.conftest import JOURNAL, archived
from tests.sources.journal.reports import corpus_message, make_report


def test_drain_flow_archives_drops_without_content_in_prefect(prefect_api, jrt, acme, endpoint, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    from mailark.flows.journal_drain import journal_drain

    original = corpus_message(corpus, "cpython-test_email/msg_07.txt")
    report = make_report(original, ["Sender: bob@acme.com", "Subject: s", "Message-Id: <x@y>", "To: carol@acme.com"])
    plain = b"From: erin@acme.com\r\nTo: dave@acme.com\r\nSubject: plain one\r\n\r\nsecret plain words\r\n"
    with smtplib.SMTP("127.0.0.1", endpoint[1], timeout=10) as c:
        c.sendmail("", [JOURNAL], report)
        c.sendmail("", [JOURNAL], plain)

    async def runs():  # type: ignore[no-untyped-def]
        async with get_client() as cl:
            return await cl.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["journal-drain"])))

    before = {r.id for r in asyncio.run(runs())}  # other tests' drains share the session's Prefect harness
    docs = journal_drain()
    assert [(d["org"], d["drops"], d["removed"], d["archived"]) for d in docs] == [("acme", 2, 2, 6)]
    assert drops.pending(jrt.store, acme.org.id) == []
    assert archived(jrt, acme.org, "carol@acme.com") == [original]
    assert archived(jrt, acme.org, "dave@acme.com") == [plain]

    [run] = [r for r in asyncio.run(runs()) if r.id not in before]
    assert run.state.is_completed() and run.name == "drain SMTP journal and import drops"
    ids = jrt.lake.execute("SELECT DISTINCT run_id FROM lake.ingest_ledger").fetchall()
    assert ids == [(str(run.id),)]
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    db = Path(PREFECT_API_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    prefect_bytes = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert b"secret plain words" not in prefect_bytes and b"dingus" not in prefect_bytes
    assert journal_drain() == []  # nothing left: a quiet run
