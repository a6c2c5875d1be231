"""The whole archive core on S3: objects and encrypted Parquet files in a bucket of a real S3 server."""

from __future__ import annotations

import zipfile
from pathlib import Path

from mailark.runtime import open_runtime
from mailark.control.orgs import create_org
from mailark.sources.files.importing import run_import
from mailark.sources.files import iter_source


def test_import_export_on_s3(s3_home, corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rt = open_runtime(s3_home)
    try:
        with rt.session() as s:
            create_org(s, "acme", rt.master_key)
        src = corpus / "cpython-test_email"
        first = run_import(rt, "acme", "a@acme", [src])
        assert first.counts.archived > 30
        again = run_import(rt, "acme", "a@acme", [src])
        assert again.counts.archived == 0 and again.counts.duplicates == again.counts.seen
        names = [o.name for o in rt.store.list("")]
        assert any(n.startswith("lake/") and n.endswith(".parquet") for n in names)
        assert any("/packs/" in n for n in names) and any("/objects/" in n for n in names)
        # Nothing in the bucket is readable: not the message bodies, not the Parquet files.
        needle = b"Here is your dingus fish"  # a Subject in the corpus
        assert needle in b"".join(p.read_bytes() for p in src.iterdir())
        for n in names:
            assert needle not in rt.store.get(n), n
        from mailark.catalog.export import export_zip

        out = tmp_path / "s3.zip"
        res = export_zip(rt.archive_for(rt.org("acme")), out)
        assert res.messages == first.counts.archived
        originals = {m.raw for m in iter_source(src)}
        with zipfile.ZipFile(out) as z:
            for n in z.namelist():
                if n.endswith(".eml"):
                    assert z.read(n) in originals
    finally:
        rt.close()
