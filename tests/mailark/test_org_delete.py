"""Issue 14, item 2: deleting an organization crypto-shreds it (keys first), then removes its data.

After `mailark org delete`: no object is left under the organization's prefix (local directory and the
S3 peer), its keys are gone, a copy of an object saved before the delete cannot be decrypted with any
key the deployment still has, its catalogue rows and index are gone, its domains are free, its audit
events stay with a final `org.deleted`; another organization is untouched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from mailark.catalog.ingest import BatchWriter, Incoming
from mailark.catalog.lake import ALIAS
from tests.search.mails import message


@pytest.fixture(params=["local", "s3"])
def runtime(request, home):  # type: ignore[no-untyped-def]
    from mailark.runtime import open_runtime

    settings = request.getfixturevalue("s3_home") if request.param == "s3" else home
    rt = open_runtime(settings)
    yield rt
    rt.close()


def _org_with_mail(rt, name: str) -> str:  # type: ignore[no-untyped-def]
    from mailark.control.mailboxes import ensure_archive_mailbox
    from mailark.control.orgs import create_org
    from mailark.control.principals import Principal

    with rt.session() as s:
        o, _ = create_org(s, name, rt.master_key)
        mb, _ = ensure_archive_mailbox(s, Principal.deployment_operator(), o, f"bea@{name}")
        mb_id, org_id = mb.id, o.id
    org = rt.org(name)
    raws = [message(i, subject=f"secret plan {i}", attachments=[("a.bin", "application/octet-stream", os.urandom(100_000))])
            for i in range(3)]
    BatchWriter(rt.archive_for(org), "t", "test").write(
        [Incoming(r, mb_id, f"bea@{name}", "INBOX", "t", f"INBOX/{i}") for i, r in enumerate(raws)])
    return org_id


def _cli(args: list[str]):  # type: ignore[no-untyped-def]
    from mailark.cli import app

    return CliRunner().invoke(app, args)


def test_delete_shreds_keys_and_removes_every_object(runtime, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.models import AuditEvent, Domain, OrgKey, Organization, User
    from mailark.control.orgs import org_keys
    from mailark.storage.crypto import IntegrityError, Sealer
    from mailark.storage.keys import KeyUnavailable, WrappedKey, unwrap_org_keys

    rt = runtime
    gone_id = _org_with_mail(rt, "leaver")
    stays_id = _org_with_mail(rt, "stayer")
    prefix = f"orgs/{gone_id}/"
    before = [i.name for i in rt.store.list(prefix)]
    assert any("/packs/" in n for n in before)
    # "a backup of the object store": the whole objects (bodies, attachments), readable before the delete
    saved = {n: rt.store.get(n) for n in before if "/objects/" in n}
    assert len(saved) >= 3
    archive = rt.archive_for(rt.org("leaver"))
    assert all(archive.read_object(n) for n in saved)
    others_before = sorted(i.name for i in rt.store.list(f"orgs/{stays_id}/"))

    # refusals: no confirmation, no --now without a cancellation, no reason
    r = _cli(["org", "delete", "leaver", "--confirm", "other"])
    assert r.exit_code == 1 and "--confirm leaver" in r.stderr
    r = _cli(["org", "delete", "leaver", "--confirm", "leaver"])
    assert r.exit_code == 1 and "--now" in r.stderr
    r = _cli(["org", "delete", "leaver", "--confirm", "leaver", "--now"])
    assert r.exit_code == 1 and "reason" in r.stderr
    assert [i.name for i in rt.store.list(prefix)] == before

    from mailark.operations.offboarding import delete_organization
    from mailark.control.principals import Principal

    res = delete_organization(rt, Principal.deployment_operator(), "leaver", confirm="leaver", now=True,
                              reason="customer left, contract 17 ended")
    assert res.keys_destroyed == 2 and res.objects_deleted == len(before) and res.catalogue_rows_deleted > 0

    assert list(rt.store.list(prefix)) == []
    if rt.settings.object_store == "local":
        assert not any(p.is_file() for p in (Path(rt.store.data_path()) / "orgs" / gone_id).rglob("*")) \
            if (Path(rt.store.data_path()) / "orgs" / gone_id).exists() else True
    assert sorted(i.name for i in rt.store.list(f"orgs/{stays_id}/")) == others_before
    for table in ("messages", "mailbox_items", "parts", "objects"):
        assert rt.lake.execute(f"SELECT count(*) FROM {ALIAS}.{table} WHERE org_id = ?", [gone_id]).fetchone()[0] == 0
        assert rt.lake.execute(f"SELECT count(*) FROM {ALIAS}.{table} WHERE org_id = ?", [stays_id]).fetchone()[0] > 0
    assert not (rt.settings.db_dir / "search" / gone_id).exists()

    with rt.session() as s:
        assert s.scalar(select(Organization).where(Organization.name == "leaver")) is None
        assert s.scalars(select(OrgKey).where(OrgKey.org_id == gone_id)).all() == []
        assert s.scalars(select(User).where(User.org_id == gone_id)).all() == []
        assert s.scalar(select(Domain).where(Domain.name == "leaver")) is None
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.org_id == gone_id))]
        assert "org.keys_destroyed" in actions and actions[-1] == "org.deleted"
        # nothing the deployment still has decrypts the saved copies: try every key it can unwrap
        every_key = []
        for o in s.scalars(select(Organization)):
            k = org_keys(s, o, rt.master_key)
            every_key += list(k.all_data_keys().values())
        with pytest.raises(KeyUnavailable):
            unwrap_org_keys(gone_id, rt.master_key, [WrappedKey(r.purpose, r.key_id, r.wrapped, r.master_key_id)
                                                    for r in s.scalars(select(OrgKey).where(OrgKey.org_id == gone_id))], "")
    assert every_key
    for name, blob in saved.items():
        for key in every_key:
            with pytest.raises(IntegrityError):
                Sealer(gone_id, key, {key.key_id: key}).open(blob, name)
        assert b"secret plan" not in blob

    # the name is free again
    from mailark.control.orgs import create_org

    with rt.session() as s:
        create_org(s, "leaver", rt.master_key)


def test_a_legal_hold_blocks_deletion_until_released(rt) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.models import OrgKey
    from mailark.control.orgs import ControlError
    from mailark.control.principals import Principal
    from mailark.control.retention import place_hold, release_hold
    from mailark.operations.offboarding import delete_organization

    op = Principal.deployment_operator()
    org_id = _org_with_mail(rt, "held")
    with rt.session() as s:
        place_hold(s, op, "held", "case 2026-3", "litigation", mailboxes=["bea@held"])
    with pytest.raises(ControlError, match=r"legal hold \(case 2026-3 \(litigation\)\)"):
        delete_organization(rt, op, "held", confirm="held", now=True, reason="customer left")
    with rt.session() as s:
        assert len(s.scalars(select(OrgKey).where(OrgKey.org_id == org_id)).all()) == 2
        release_hold(s, op, "held", "case 2026-3", "case closed")
    delete_organization(rt, op, "held", confirm="held", now=True, reason="customer left")
    with rt.session() as s:
        assert s.scalars(select(OrgKey).where(OrgKey.org_id == org_id)).all() == []


def test_an_interrupted_deletion_resumes(rt, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.principals import Principal
    from mailark.operations import offboarding as rto

    org_id = _org_with_mail(rt, "crashy")
    real = rt.store.delete
    calls = {"n": 0}

    def crash_after_one(name: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")
        real(name)

    monkeypatch.setattr(rt.store, "delete", crash_after_one)
    with pytest.raises(RuntimeError):
        rto.delete_organization(rt, Principal.deployment_operator(), "crashy", confirm="crashy", now=True,
                                reason="customer left")
    monkeypatch.setattr(rt.store, "delete", real)
    assert list(rt.store.list(f"orgs/{org_id}/"))  # half done, keys already gone
    # the resumed run needs neither --now nor a reason: the organization without keys is being deleted
    res = rto.delete_organization(rt, Principal.deployment_operator(), "crashy", confirm="crashy")
    assert res.resumed and list(rt.store.list(f"orgs/{org_id}/")) == []


def test_cancel_grace_lock_then_delete_without_now(rt) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from mailark.control import licensing
    from mailark.control.exports import ExportRequest, start_export
    from mailark.control.models import Licence
    from mailark.control.mailboxes import ensure_archive_mailbox
    from mailark.control.orgs import ControlError, Forbidden, LimitExceeded
    from mailark.control.principals import Principal
    from mailark.operations.offboarding import delete_organization

    op = Principal.deployment_operator()
    org_id = _org_with_mail(rt, "goer")
    t0 = datetime(2026, 5, 14, 10, 0, tzinfo=UTC)
    with rt.session() as s:
        v = licensing.cancel_subscription(s, op, "goer", grace_days=30, now=t0)
        assert v.status == "cancelled" and v.subscription_ends_at == datetime(2026, 6, 1, tzinfo=UTC)
        assert v.deletion_due_at == datetime(2026, 7, 1, tzinfo=UTC)
        lic = s.get(Licence, org_id)
        assert licensing.status(lic, datetime(2026, 6, 10, tzinfo=UTC)) == "grace"
        assert licensing.status(lic, datetime(2026, 7, 2, tzinfo=UTC)) == "locked"
    # with the clock in the grace period (the real clock is past July 2026 in no test run: use real dates)
    now = datetime.now(UTC)
    with rt.session() as s:
        lic = s.get(Licence, org_id)
        lic.subscription_ends_at, lic.deletion_due_at = now - timedelta(days=2), now + timedelta(days=28)
    with rt.session() as s:
        o = rt.org("goer")
        with pytest.raises(LimitExceeded, match="cancelled and has ended"):
            ensure_archive_mailbox(s, op, o, "new@goer")
    with rt.session() as s:  # users may still export in the grace period
        start_export(s, op, "goer", ExportRequest())
    with pytest.raises(ControlError, match="not due for deletion"):
        delete_organization(rt, op, "goer", confirm="goer")
    # the grace period is over: locked, no export, deletion without --now
    with rt.session() as s:
        lic = s.get(Licence, org_id)
        lic.subscription_ends_at, lic.deletion_due_at = now - timedelta(days=40), now - timedelta(days=10)
    with rt.session() as s, pytest.raises(Forbidden, match="locked"):
        start_export(s, op, "goer", ExportRequest(), now=now)
    # undo is possible until the deletion runs
    with rt.session() as s:
        assert licensing.resume_subscription(s, op, "goer").status in ("trial", "paid")
        licensing.cancel_subscription(s, op, "goer", grace_days=0, now=now - timedelta(days=60))
    r = _cli(["org", "delete", "goer", "--confirm", "goer", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["keys_destroyed"] == 2
    assert list(rt.store.list(f"orgs/{org_id}/")) == []
