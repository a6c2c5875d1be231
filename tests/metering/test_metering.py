"""Metering rules on a real catalogue and control plane: 90 % warning, pause at 100 % and resume,
auto-expand, incremental runs that read only what changed, deletions lowering usage."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from mailark.control import licensing, metering
from mailark.control.models import GB, AuditEvent, MeteringState, Organization
from mailark.control.principals import Principal
from mailark.control.sources import create_source, get_source
from mailark.operations.metering import meter_org
from tests.metering.conftest import add_object, delete_object

OP = Principal.deployment_operator()


def _state(rt, org_id):  # type: ignore[no-untyped-def]
    with rt.session() as s:
        return s.get(MeteringState, org_id)


def _full(rt, org_id):  # type: ignore[no-untyped-def]
    """The figures a from-scratch count gives, for comparing with the running totals."""
    row = rt.lake.execute("SELECT coalesce(sum(stored_size), 0), count(*) FROM lake.objects WHERE org_id = ?", [org_id]).fetchone()
    return int(row[0]), int(row[1])


def test_first_run_counts_in_full_then_only_what_changed(rt, tenant, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.sources.files.importing import run_import

    org = tenant.org
    run_import(rt, "acme", "ann@acme", [corpus / "letters"])
    first = meter_org(rt, "acme")
    objects_bytes, n_objects = _full(rt, org.id)
    assert first.mode == "full" and first.rows_read > n_objects > 0
    st = _state(rt, org.id)
    assert st.object_bytes == objects_bytes
    assert st.lake_bytes > 0 and st.storage_bytes == st.object_bytes + st.lake_bytes
    copies = rt.lake.execute("SELECT count(*), sum(size) FROM lake.mailbox_items WHERE org_id = ?", [org.id]).fetchone()
    assert (st.copies, st.raw_bytes) == (copies[0], copies[1])

    # nothing changed: the next run reads no rows at all
    second = meter_org(rt, "acme")
    assert second.mode == "incremental" and second.rows_read == 0
    assert _state(rt, org.id).object_bytes == objects_bytes

    # one more small import: the run reads only its rows, and the totals match a full count
    run_import(rt, "acme", "bob@acme", [corpus / "cpython-test_email"])
    new_copies = rt.lake.execute("SELECT count(*) FROM lake.mailbox_items WHERE org_id = ? AND mailbox = 'bob@acme'",
                                 [org.id]).fetchone()[0]
    third = meter_org(rt, "acme")
    assert third.mode == "incremental"
    assert 0 < third.rows_read < first.rows_read / 2
    assert third.rows_read >= new_copies
    st = _state(rt, org.id)
    assert (st.object_bytes, st.copies) == (_full(rt, org.id)[0], copies[0] + new_copies)
    check = meter_org(rt, "acme", full=True)
    assert check.mode == "full" and _state(rt, org.id).object_bytes == st.object_bytes
    # ingest's quota check counts exactly what metering counts
    from mailark.catalog.ingest import storage_used

    with rt.session() as s:
        o = s.get(Organization, org.id)
    assert storage_used(rt.archive_for(o)) == _state(rt, org.id).storage_bytes


def test_deletions_lower_usage_and_exports_count(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    org = tenant.org
    part = add_object(rt, org.id, 3_000_000)
    export = add_object(rt, org.id, 2_000_000, kind="export")
    meter_org(rt, "acme")
    st = _state(rt, org.id)
    assert (st.object_bytes, st.export_bytes) == (5_000_000, 2_000_000)
    delete_object(rt, org.id, export)  # the export expired
    r = meter_org(rt, "acme")
    st = _state(rt, org.id)
    assert r.mode == "incremental" and r.rows_read == 1
    assert (st.object_bytes, st.export_bytes) == (3_000_000, 0)
    delete_object(rt, org.id, part)  # a compliance delete
    meter_org(rt, "acme")
    assert _state(rt, org.id).object_bytes == 0


def test_other_organizations_do_not_count(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    from tests.control.conftest import make_tenant

    other = make_tenant(rt, "globex")
    add_object(rt, tenant.org.id, 1000)
    add_object(rt, other.org.id, 5000)
    meter_org(rt, "acme")
    meter_org(rt, "globex")
    assert _state(rt, tenant.org.id).object_bytes == 1000
    assert _state(rt, other.org.id).object_bytes == 5000
    add_object(rt, other.org.id, 7)
    r = meter_org(rt, "acme")
    assert r.rows_read == 0 and _state(rt, tenant.org.id).object_bytes == 1000


def test_warning_at_90_percent_pause_at_100_and_resume(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    org = tenant.org
    with rt.session() as s:
        src = create_source(s, tenant.admin, "acme", "imap", "mailhost", {"host": "imap.example"}, None, rt.master_key)
    add_object(rt, org.id, int(8.5 * GB))
    r = meter_org(rt, "acme")
    assert not [w for w in r.outcome["warnings"] if w["code"] == "storage"]
    big = add_object(rt, org.id, int(0.6 * GB))  # 9.1 GB of 10
    r = meter_org(rt, "acme")
    storage = [w["message"] for w in r.outcome["warnings"] if w["code"] == "storage"]
    assert storage and "91 % full" in storage[0]
    assert not r.outcome["paused"]

    add_object(rt, org.id, int(1.0 * GB))  # 10.1 GB: full
    r = meter_org(rt, "acme")
    assert r.outcome["paused"] and r.outcome["changed"] == "paused"
    with rt.session() as s:
        assert "storage is full" in metering.archiving_paused(s, org.id)
        assert "storage is full" in get_source(s, tenant.admin, "acme", "mailhost").paused_reason
        usage = metering.get_usage(s, tenant.admin, "acme")
        assert usage.archiving_paused and usage.storage_used_gb == 11 and usage.storage_quota_gb == 10
    again = meter_org(rt, "acme")
    assert again.outcome["paused"] and again.outcome["changed"] is None  # still full: no second pause event

    delete_object(rt, org.id, big)  # room again (9.5 GB): resumes by itself
    r = meter_org(rt, "acme")
    assert not r.outcome["paused"] and r.outcome["changed"] == "resumed"
    with rt.session() as s:
        assert metering.archiving_paused(s, org.id) is None
        assert get_source(s, tenant.admin, "acme", "mailhost").paused_reason is None
        actions = [a for (a,) in s.execute(select(AuditEvent.action).where(AuditEvent.org_id == org.id))]
    assert actions.count("archiving.pause") == 1 and actions.count("archiving.resume") == 1
    assert src.name == "mailhost"


def test_raising_the_quota_resumes(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    add_object(rt, tenant.org.id, 11 * GB)
    assert meter_org(rt, "acme").outcome["paused"]
    with rt.session() as s:  # at once (issue 14): the next metering run finds it running
        licensing.change_licence(s, OP, "acme", storage_gb=25)
        assert metering.archiving_paused(s, tenant.org.id) is None
    r = meter_org(rt, "acme")
    assert not r.outcome["paused"] and r.outcome["changed"] is None


def test_auto_expand_before_full_audited_as_system(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        licensing.change_licence(s, OP, "acme", auto_expand=True)
    add_object(rt, tenant.org.id, int(8 * GB))
    assert meter_org(rt, "acme").outcome["expanded_to_gb"] == []
    add_object(rt, tenant.org.id, int(1.2 * GB))  # 9.2 of 10: expand before it is full
    r = meter_org(rt, "acme")
    assert r.outcome["expanded_to_gb"] == [25] and not r.outcome["paused"]
    assert r.outcome["storage_quota_bytes"] == 25 * GB
    add_object(rt, tenant.org.id, int(40 * GB))  # a jump: 49.2 GB, past 25 and 90 % of 50
    r = meter_org(rt, "acme")
    assert r.outcome["expanded_to_gb"] == [50, 100] and not r.outcome["paused"]
    with rt.session() as s:
        assert s.get(Organization, tenant.org.id).storage_quota_bytes == 100 * GB
        evs = s.scalars(select(AuditEvent).where(AuditEvent.action == "licence.auto_expand")).all()
    assert [(e.actor_kind, json.loads(e.details)["after_gb"]) for e in evs] == [("system", 25), ("system", 50), ("system", 100)]


def test_a_second_run_for_the_same_organization_is_skipped(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        assert metering.claim(s, tenant.org.id, "other-run")
    r = meter_org(rt, "acme")
    assert r.mode == "skipped" and "another metering run" in r.note
    with rt.session() as s:
        metering.release(s, tenant.org.id, "other-run")
    assert meter_org(rt, "acme").mode == "full"


def test_usage_rows_are_written_to_the_catalogue(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    add_object(rt, tenant.org.id, 1234)
    meter_org(rt, "acme")
    meter_org(rt, "acme")
    rows = rt.lake.execute("SELECT storage_bytes, storage_quota_bytes, users, mailboxes FROM lake.usage WHERE org_id = ?",
                           [tenant.org.id]).fetchall()
    assert len(rows) == 2 and rows[0][1] == 10 * GB and rows[0][2] == 1
    st = _state(rt, tenant.org.id)
    assert rows[1][0] == st.storage_bytes == 1234 + st.lake_bytes
    # the meter's own rows do not count against the organization
    before = st.lake_bytes
    meter_org(rt, "acme")
    assert _state(rt, tenant.org.id).lake_bytes == before


def test_compaction_changes_nothing_and_expired_snapshots_fall_back_to_a_full_count(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    from mailark.catalog.lake import catalog_lane

    org = tenant.org
    keys = [add_object(rt, org.id, 1000 + i) for i in range(5)]
    meter_org(rt, "acme")
    with catalog_lane(rt.settings, org.id, rt.lake, rt.store):
        rt.lake.execute("CALL ducklake_merge_adjacent_files('lake')")  # what nightly maintenance does
    delete_object(rt, org.id, keys[0])
    r = meter_org(rt, "acme")
    assert r.mode == "incremental" and r.rows_read == 1
    assert _state(rt, org.id).object_bytes == _full(rt, org.id)[0] == sum(1000 + i for i in range(1, 5))

    add_object(rt, org.id, 77)
    with catalog_lane(rt.settings, org.id, rt.lake, rt.store):
        rt.lake.execute("CALL ducklake_expire_snapshots('lake', older_than => now())")
    r = meter_org(rt, "acme")
    assert r.mode == "full" and _state(rt, org.id).object_bytes == _full(rt, org.id)[0]


def test_user_and_mailbox_quota_warnings(rt) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.mailboxes import create_mailbox
    from tests.control.conftest import make_tenant

    t = make_tenant(rt, "tiny", users=1, storage_gb=10, mailboxes_per_user=1)  # its admin is the one user
    r = meter_org(rt, "tiny")
    assert [w["code"] for w in r.outcome["warnings"]] == ["users"]
    with rt.session() as s:
        create_mailbox(s, t.admin, "tiny", "journal@tiny", kind="journal")
    r = meter_org(rt, "tiny")
    assert [w["code"] for w in r.outcome["warnings"]] == ["users", "mailboxes"]
    assert (r.outcome["users"], r.outcome["mailboxes"]) == (1, 1)
    with rt.session() as s:
        assert [w["code"] for w in metering.get_usage(s, t.admin, "tiny").warnings] == ["users", "mailboxes"]


def test_a_paused_organization_defers_what_comes_in(rt, org) -> None:  # type: ignore[no-untyped-def]
    """While metering has paused archiving (here: set directly), writers defer with the reason."""
    from mailark.catalog.ingest import BatchWriter, Incoming
    from mailark.control.metering import get_state
    from mailark.control.orgs import ensure_mailbox
    from tests.catalog.test_ingest import mail

    with rt.session() as s:
        mb, _ = ensure_mailbox(s, org, "ann@acme")
        st = get_state(s, org.id)
        st.paused, st.paused_reason = True, "the trial has ended"
    counts = BatchWriter(rt.archive_for(org), "r", "t").write([Incoming(mail(1, b"x"), mb.id, "ann@acme", "INBOX", "t", "1")])
    assert (counts.archived, counts.deferred, dict(counts.reasons)) == (0, 1, {"deferred: the trial has ended": 1})
    with rt.session() as s:
        get_state(s, org.id).paused = False
    counts = BatchWriter(rt.archive_for(org), "r2", "t").write([Incoming(mail(1, b"x"), mb.id, "ann@acme", "INBOX", "t", "1")])
    assert counts.archived == 1
