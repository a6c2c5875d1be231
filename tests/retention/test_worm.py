"""WORM end to end: ingest locks a copy's objects until its retention ends, the store refuses an early
delete, the retention run deletes once the lock has passed; holds lengthen locks; locked packs are
never rewritten. S3 runs on the moto server; the pack and hold checks on the local store."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from minio.error import S3Error

from mailark.catalog.deletion import delete_copies
from mailark.catalog.lake import ALIAS
from mailark.config.settings import Settings, reset_settings_cache
from mailark.control.principals import Principal
from mailark.control.retention import PolicySpec
from mailark.operations import retention as r
from mailark.storage.objects import ObjectLocked
from tests.retention.conftest import Archive
from tests.search.mails import message

OP = Principal.deployment_operator()


def _mail(n: int, date: datetime, subject: str) -> bytes:
    """A message with an attachment big enough to be stored as its own object."""
    blob = bytes((n * 7919 + i * 31) % 251 for i in range(20_000))
    return message(n, date=date, subject=subject, attachments=[(f"a{n}.bin", "application/octet-stream", blob)])


def _objects(rt, org_id: str, kind: str | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    sql = f"SELECT object_key FROM {ALIAS}.objects WHERE org_id = ?" + (" AND kind = ?" if kind else "")
    return sorted(x[0] for x in rt.lake.execute(sql, [org_id, *([kind] if kind else [])]).fetchall())


def _open_rt(monkeypatch: pytest.MonkeyPatch, **env: str):  # type: ignore[no-untyped-def]
    from mailark.runtime import open_runtime

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    reset_settings_cache()
    return open_runtime(Settings())


@pytest.fixture
def s3_worm_rt(s3_home, monkeypatch):  # type: ignore[no-untyped-def]
    runtime = _open_rt(monkeypatch, MAILARK_WORM="compliance")
    yield runtime
    runtime.close()


@pytest.fixture
def local_worm_rt(home, monkeypatch):  # type: ignore[no-untyped-def]
    runtime = _open_rt(monkeypatch, MAILARK_WORM="governance", MAILARK_WORM_HOLD_KEEP="10y")
    yield runtime
    runtime.close()


def _arc(rt) -> Archive:  # type: ignore[no-untyped-def]
    from mailark.control.orgs import create_org, ensure_mailbox
    from tests.search.conftest import Box

    with rt.session() as s:
        o, _ = create_org(s, "acme", rt.master_key)
        ann, _ = ensure_mailbox(s, o, "ann@acme.example")
        info, _ = ensure_mailbox(s, o, "info@acme.example")
        boxes = Box(ann.id, ann.primary_address), Box(info.id, info.primary_address)
    return Archive(rt.archive_for(o), *boxes, rt.settings.db_dir)


def test_s3_lock_from_the_policy_refuses_early_delete_and_the_retention_run_deletes_after(s3_worm_rt) -> None:  # type: ignore[no-untyped-def]
    rt = s3_worm_rt
    arc = _arc(rt)
    r.save_checked(rt, OP, "acme", PolicySpec("one day", "1d"))
    # dated a day ago, plus a few seconds: its retention (and lock) ends seconds from now
    soon = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1) + timedelta(seconds=8)
    (item,) = arc.put(arc.ann, [_mail(1, soon, "expires soon")])
    store = rt.store
    parts = _objects(rt, arc.archive.org_id, "part")
    assert parts
    for key in parts:
        until = store.retain_until(key)
        assert until == soon + timedelta(days=1), (key, until)
    # the store itself refuses: the bare SDK with the bucket keys, on the locked version
    raw = store._client  # the bare SDK
    st = raw.stat_object(store.bucket, parts[0])
    with pytest.raises(S3Error) as e:
        raw.remove_object(store.bucket, parts[0], version_id=st.version_id)
    assert e.value.code == "AccessDenied"
    with pytest.raises(ObjectLocked):
        store.delete(parts[0])

    assert r.apply_retention(rt, OP, "acme").deleted == 0  # not expired yet
    time.sleep(max(0.0, (soon + timedelta(days=1) - datetime.now(UTC)).total_seconds()) + 0.5)
    res = r.apply_retention(rt, OP, "acme")
    assert res.deleted == 1 and res.locked == 0, res.as_dict()
    for key in parts:
        assert not store.exists(key)
        assert not [o for o in raw.list_objects(store.bucket, prefix=key, include_version=True)], "no version left"
    assert item not in {x[0] for x in rt.lake.execute(f"SELECT item_id FROM {ALIAS}.mailbox_items").fetchall()}


def test_no_policy_no_lock_unless_a_default_is_configured(local_worm_rt, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rt = local_worm_rt
    arc = _arc(rt)
    arc.put(arc.ann, [_mail(2, datetime(2024, 5, 1, tzinfo=UTC), "plain")])
    assert all(rt.store.retain_until(k) is None for k in _objects(rt, arc.archive.org_id))
    rt.settings.worm_default_keep = "10y"
    arc.put(arc.info, [_mail(3, datetime(2024, 5, 1, tzinfo=UTC), "later")])
    locked = [k for k in _objects(rt, arc.archive.org_id, "part") if rt.store.retain_until(k)]
    assert locked and all(rt.store.retain_until(k) == datetime(2034, 5, 1, tzinfo=UTC) for k in locked)


def test_a_hold_lengthens_locks_and_a_locked_pack_is_never_rewritten(local_worm_rt) -> None:  # type: ignore[no-untyped-def]
    rt = local_worm_rt
    arc = _arc(rt)
    r.save_checked(rt, OP, "acme", PolicySpec("five years", "5y"))
    d1, d2 = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    a, b = arc.put(arc.ann, [_mail(4, d1, "first"), _mail(5, d2, "second")])
    store = rt.store
    (pack,) = _objects(rt, arc.archive.org_id, "pack")
    assert store.retain_until(pack) == datetime(2030, 1, 1, tzinfo=UTC), "a pack: the earliest lock of its entries"

    # a hold lengthens the locks of what it keeps, never shortens them
    out = r.add_hold(rt, OP, "acme", "Case 1", "litigation", mailboxes=[arc.ann.address])
    assert out["locks_extended"] > 0
    parts = _objects(rt, arc.archive.org_id, "part")
    assert parts and all(store.retain_until(k) >= datetime(2036, 12, 1, tzinfo=UTC) for k in parts)
    r.end_hold(rt, OP, "acme", "Case 1", "settled")

    # a compliance deletion before the locks pass: the pack is not rewritten, the locked bytes stay
    before = store.get(pack)
    res = delete_copies(arc.archive, [a])
    assert res.copies == 1 and res.packs_rewritten == 0
    assert res.packs_locked == [pack] and res.locked, res
    assert store.get(pack) == before
    assert all(store.exists(k) for k in res.locked)
    # b still reads whole from the untouched pack
    skel, delta, sha = rt.lake.execute(
        f"SELECT m.skeleton_ref, i.delta_ref, i.copy_sha256 FROM {ALIAS}.mailbox_items i JOIN {ALIAS}.messages m "
        f"ON m.org_id = i.org_id AND m.message_key = i.message_key WHERE i.item_id = ?", [b]).fetchone()
    assert b"second" in arc.archive.reader().rebuild(skel, delta, sha)

    # compaction and orphan cleanup leave the locked bytes alone, and say so
    from mailark.catalog.maintenance import delete_orphans
    from mailark.operations.maintenance import compact_catalogue

    kept = {k: store.get(k) for k in [pack, *res.locked]}
    arc.put(arc.info, [_mail(6, d2, "third")])
    compact_catalogue(rt, now=datetime.now(UTC) + timedelta(days=60))
    orphans = delete_orphans(arc.archive, now=datetime.now(UTC) + timedelta(days=1), grace=timedelta(hours=1))
    assert set(res.locked) <= set(orphans.locked) and not set(orphans.deleted) & set(kept), orphans
    assert {k: store.get(k) for k in kept} == kept
    assert all(store.locked(k) for k in kept)
