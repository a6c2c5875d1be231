"""Sealing binds organization and name; packs give back each entry; keys wrap and unwrap."""

from __future__ import annotations

import os

import pytest

from mailark.storage.crypto import DataKey, IntegrityError, Sealer
from mailark.storage.keys import KeyUnavailable, MasterKey, load_master_key, new_org_keys, unwrap_org_keys
from mailark.storage.local import LocalObjectStore
from mailark.storage.packs import EntryRef, PackReader, PackWriter


def sealer(org: str = "o1", key: DataKey | None = None) -> Sealer:
    return Sealer(org, key or DataKey(os.urandom(8), os.urandom(32)))


def test_seal_open_and_bindings() -> None:
    key = DataKey(os.urandom(8), os.urandom(32))
    s = sealer("o1", key)
    text = b"Quarterly figures " * 100
    blob = s.seal(text, "orgs/o1/objects/ab/x")
    assert text not in blob and blob[:2] == b"MA"
    assert len(blob) < len(text)  # compressed before encryption
    assert s.open(blob, "orgs/o1/objects/ab/x") == text
    with pytest.raises(IntegrityError, match="authentication"):
        s.open(blob, "orgs/o1/objects/ab/y")  # moved to another name
    with pytest.raises(IntegrityError, match="authentication"):
        sealer("o2", key).open(blob, "orgs/o1/objects/ab/x")  # another organization
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(IntegrityError):
        s.open(bytes(tampered), "orgs/o1/objects/ab/x")
    with pytest.raises(IntegrityError, match="no longer has"):
        sealer("o1").open(blob, "orgs/o1/objects/ab/x")  # keys destroyed: crypto-shredded


def test_incompressible_data_is_stored_uncompressed() -> None:
    data = os.urandom(10_000)
    blob = sealer().seal(data, "n")
    assert len(blob) == len(data) + 24 + 16


def test_master_key_wraps_org_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    master = load_master_key(None, tmp_path / "master.key")
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600
    assert load_master_key(None, tmp_path / "master.key") == master
    keys, wrapped = new_org_keys("o1", master)
    assert all(keys.naming_key not in w.wrapped and keys.data_key.key not in w.wrapped for w in wrapped)
    again = unwrap_org_keys("o1", master, wrapped, keys.data_key.key_id.hex())
    assert again.naming_key == keys.naming_key and again.data_key == keys.data_key
    with pytest.raises(KeyUnavailable):
        unwrap_org_keys("o1", MasterKey(os.urandom(32)), wrapped, "")
    with pytest.raises(KeyUnavailable):
        unwrap_org_keys("o2", master, wrapped, "")  # wrapped keys are bound to their organization


def test_pack_entries_read_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LocalObjectStore(tmp_path)
    s = sealer("o1")
    w = PackWriter("o1", "b1", s, block_target=4096)
    entries = [os.urandom(n) for n in (10, 5000, 3, 9000, 0, 200)] + [b"hello world " * 50]
    idx = [w.add(e) for e in entries]
    blob, refs, plain = w.finish()
    assert plain == sum(map(len, entries))
    store.put_if_absent(w.name, blob)
    r = PackReader("o1", store, s)
    for i, e in zip(idx, entries):
        assert r.read(str(refs[i])) == e
        assert EntryRef.parse(str(refs[i])) == refs[i]
    assert len({(x.block_offset) for x in refs}) > 1  # several blocks, read independently


def test_large_blobs_compress_only_when_samples_of_them_do() -> None:
    from mailark.storage.crypto import SAMPLE_ABOVE

    s = Sealer("org", DataKey(b"k" * 8, os.urandom(32)))
    noise = os.urandom(SAMPLE_ABOVE + 1)
    text = (b"the same line of a long report\r\n" * (SAMPLE_ABOVE // 32 + 1))
    for plain, compressed in ((noise, False), (text, True)):
        blob = s.seal(plain, "obj")
        assert (len(blob) < len(plain) // 2) is compressed
        assert s.open(blob, "obj") == plain
