"""The nightly maintenance verifies the whole audit chain (under a real Prefect server, the test harness):
it records a full checkpoint when intact, and the run fails loudly, naming the first bad event, when not."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from mailark.control import audit
from tests.flows.test_export_flow import _artifacts


def test_maintenance_verifies_the_audit_chain_and_fails_when_broken(prefect_api, rt, org) -> None:  # type: ignore[no-untyped-def]
    from mailark.flows.maintain import maintain_archive

    with rt.session() as s:
        for i in range(3):
            audit.record(s, None, "test.event", target=str(i))
    doc = maintain_archive(day=0)
    chain = doc["audit_chain"]
    assert chain["ok"] and chain["full"] and chain["from_seq"] == 1 and chain["events_checked"] == chain["head_seq"] >= 1
    with rt.control() as s:
        assert audit.last_full_verification(s) is not None
        assert audit.verify_chain(s, full=False).from_seq == chain["head_seq"]  # pages start from there now

    with rt.session() as s:  # an edit BEFORE the newest checkpoint: only the full walk can see it
        s.execute(text("UPDATE audit_events SET target = 'forged' WHERE seq = 1"))
    with rt.session() as s:
        assert audit.verify_chain(s, full=False).ok  # missed by the pages' check, as designed
    with pytest.raises(RuntimeError, match=r"audit chain check failed: .*BROKEN at event 1"):
        maintain_archive(day=0)
    arts = _artifacts("maintenance-report")
    assert any("audit chain: BROKEN" in str(a.data) for a in arts)
