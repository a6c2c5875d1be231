"""Concurrent and interrupted imports: every copy archived exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

MAILARK = str(Path(sys.executable).parent / "mailark")


def cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([MAILARK, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def unique_counts(rt, org_id: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    return rt.lake.execute(
        "SELECT count(*), count(DISTINCT (mailbox_id, folder, copy_sha256)) FROM lake.mailbox_items WHERE org_id = ?",
        [org_id],
    ).fetchone()


def reference_copies(rt, corpus_part: Path) -> int:  # type: ignore[no-untyped-def]
    """How many distinct copies one undisturbed import archives, in a fresh organization."""
    from mailark.control.orgs import create_org
    from mailark.sources.files.importing import run_import

    with rt.session() as s:
        create_org(s, "reference", rt.master_key)
    return run_import(rt, "reference", "a@reference", [corpus_part]).counts.archived


def test_two_imports_at_once_archive_each_copy_once(home, rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "MAILARK_BATCH_MESSAGES": "40"}
    src = str(corpus)
    procs = [cli("import", src, "--org", "acme", "--mailbox", "a@acme", "--json", env=env) for _ in range(2)]
    docs = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        docs.append(json.loads(out))
    rt.close()
    total, distinct = unique_counts(rt, org.id)
    assert total == distinct
    assert docs[0]["archived"] + docs[1]["archived"] == distinct
    assert distinct == reference_copies(rt, corpus)
    for d in docs:
        assert d["seen"] == d["archived"] + d["duplicates"] + d["quarantined"] + d["deferred"]
    # a problem without bytes is one record per source position (issue 19), so the key includes it
    q = rt.lake.execute("SELECT count(*), count(DISTINCT (mailbox_id, folder, copy_sha256, source, source_position)) "
                        "FROM lake.quarantine").fetchone()
    assert q[0] == q[1]


def test_killed_import_then_rerun_archives_everything_once(home, rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "MAILARK_BATCH_MESSAGES": "25"}
    packs = Path(home.objects_dir) / "orgs" / org.id / "packs"
    p = cli("import", str(corpus), "--org", "acme", "--mailbox", "a@acme", env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not packs.exists() or len(list(packs.iterdir())) < 4):
        assert p.poll() is None, "the import finished before it could be killed: use more input"
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    rerun = cli("import", str(corpus), "--org", "acme", "--mailbox", "a@acme", "--json", env=env)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    doc = json.loads(out)
    assert doc["duplicates"] > 0  # the killed run had committed batches
    rt.close()
    total, distinct = unique_counts(rt, org.id)
    assert total == distinct == reference_copies(rt, corpus)
    msgs = rt.lake.execute("SELECT count(*), count(DISTINCT message_key) FROM lake.messages WHERE org_id = ?", [org.id]).fetchone()
    assert msgs[0] == msgs[1]
    # Everything reads back byte-exact after the crash.
    from mailark.catalog.export import export_zip

    res = export_zip(rt.archive_for(org), Path(home.home) / "after-kill.zip")
    assert res.messages == distinct
