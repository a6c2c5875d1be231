"""IMAP benchmark: the IMAP source's archive rate against the archive core's file import rate on
the same messages, measured in one run.

    python -m bench.imap --users 10 --messages 2000

Generated organization mail (bench/generate/: the first N copies) is APPENDed to a throw-away
Dovecot (tests/peers/dovecot.py, one account per archive mailbox, Inbox -> INBOX, Sent -> Sent)
and written as files with the same bytes. Two child processes, each pinned to one core with a
fresh mailark home, after their imports and catalogue start-up:
- file import: `mailark.sources.files.importing.run_import` per mailbox (what `mailark import` runs);
- IMAP: one whole-server profile (Dovecot master user) run by `mailark.sources.imap.sync.sync_profile`
  (what the imap-sync flow runs), then a second run with nothing new (the incremental cost).
Dovecot runs beside them on the machine's other core.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
REPO = Path(__file__).resolve().parents[1]


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def make_copies(users: int, copies: int, seed: int) -> list[tuple[str, str, bytes]]:
    from bench.generate import generate_org_mail

    gen = generate_org_mail(users, copies, seed=seed)  # at least one copy per message: enough
    return [(c.mailbox, "INBOX" if c.folder == "Inbox" else c.folder, crlf(c.raw)) for c in itertools.islice(gen, copies)]


def write_tree(copies: list[tuple[str, str, bytes]], tree: Path) -> None:
    shutil.rmtree(tree, ignore_errors=True)
    for i, (mb, folder, raw) in enumerate(copies):
        d = tree / mb / folder
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i:07d}.eml").write_bytes(raw)


def fill_dovecot(server, copies: list[tuple[str, str, bytes]]) -> None:  # type: ignore[no-untyped-def]
    by_mb: dict[str, list[tuple[str, bytes]]] = {}
    for mb, folder, raw in copies:
        by_mb.setdefault(mb, []).append((folder, raw))
    for mb, items in by_mb.items():
        server.add_user(mb, "pw")
        c = server.client(mb)
        for folder in {f for f, _ in items}:
            if folder != "INBOX":
                c.create_folder(folder)
        for folder, raw in items:
            c.append(folder, raw)
        c.logout()


def run_child(kind: str, arg: dict[str, object], home: Path) -> dict[str, object]:
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "MAILARK_HOME": str(home), "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api",
           "PYTHONPATH": str(REPO)}
    p = subprocess.run([sys.executable, "-m", "bench.imap", "--child", kind, json.dumps(arg)], env=env,
                       capture_output=True, text=True, cwd=REPO)
    if p.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def child(kind: str, arg: dict) -> None:  # type: ignore[type-arg]
    pin_one_core()
    import pyarrow as pa

    from mailark.control.orgs import create_org
    from mailark.runtime import open_runtime

    rt = open_runtime()
    with rt.session() as s:
        create_org(s, "bench", rt.master_key, users=10_000, storage_gb=1000)
    rt.archive_for(rt.org("bench"))
    rt.lake.register("_warm", pa.table({"v": ["x"]}))
    rt.lake.execute("SELECT * FROM _warm").fetchall()
    rt.lake.unregister("_warm")
    doc: dict[str, object] = {}
    if kind == "files":
        from mailark.sources.files.importing import run_import

        tree = Path(arg["tree"])
        seen = nbytes = 0
        t = time.perf_counter()
        for d in sorted(tree.iterdir()):
            r = run_import(rt, "bench", d.name, [d])
            seen, nbytes = seen + r.counts.seen, nbytes + r.bytes
        seconds = time.perf_counter() - t
        doc = {"messages": seen, "bytes": nbytes, "seconds": seconds}
    else:
        from mailark.control.principals import Principal
        from mailark.control.sources import create_source
        from mailark.sources.imap.sync import sync_profile
        from mailark.sources.imap import probe

        cfg = {"host": "127.0.0.1", "port": arg["port"], "security": "ssl", "ca_file": arg["cert"],
               "username": arg["master"], "mode": "server", "accounts": arg["accounts"]}
        secret = {"password": arg["password"]}
        probe(cfg, secret)  # TLS and imapclient start-up before the clock
        with rt.session() as s:
            v = create_source(s, Principal.deployment_operator(), "bench", "imap", "bench", cfg, secret, rt.master_key)
        t = time.perf_counter()
        r = sync_profile(rt, v.id)
        seconds = time.perf_counter() - t
        assert r.status == "ok", r.error
        t = time.perf_counter()
        again = sync_profile(rt, v.id)
        doc = {"messages": r.fetched, "archived": r.counts.archived, "bytes": arg["bytes"], "seconds": seconds,
               "incremental_seconds": time.perf_counter() - t, "incremental_fetched": again.fetched,
               "folders": r.folders, "download_wait_seconds": r.download_seconds,
               "archive_seconds": r.archive_seconds, "archive_wait_seconds": r.archive_wait_seconds}
    doc["messages_per_s"] = float(doc["messages"]) / float(doc["seconds"])  # type: ignore[arg-type]
    doc["mb_per_s"] = float(doc["bytes"]) / float(doc["seconds"]) / 1e6  # type: ignore[arg-type]
    doc["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rt.close()
    print(json.dumps(doc))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--messages", type=int, default=2000, help="copies (messages as mailboxes hold them)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], json.loads(a.child[1]))
        return
    sys.path.insert(0, str(REPO))
    from tests.peers.dovecot import MASTER_PASSWORD, MASTER_USER, remove, start_dovecot

    OUT.mkdir(parents=True, exist_ok=True)
    copies = make_copies(a.users, a.messages, a.seed)
    nbytes = sum(len(r) for *_, r in copies)
    tree = OUT / f"imap-tree-u{a.users}-m{a.messages}-s{a.seed}"
    write_tree(copies, tree)
    server = start_dovecot()
    try:
        t = time.perf_counter()
        fill_dovecot(server, copies)
        fill_s = time.perf_counter() - t
        files = run_child("files", {"tree": str(tree)}, OUT / "home-imap-files")
        imap = run_child("imap", {"port": server.imaps_port, "cert": str(server.cert), "master": MASTER_USER,
                                  "password": MASTER_PASSWORD, "accounts": sorted({m for m, *_ in copies}),
                                  "bytes": nbytes}, OUT / "home-imap")
    finally:
        remove(server)
    ratio = imap["messages_per_s"] / files["messages_per_s"]  # type: ignore[operator]
    print(f"\n== {len(copies)} copies, {nbytes / 1e6:.1f} MB, {len({m for m, *_ in copies})} mailboxes "
          f"(APPEND to Dovecot took {fill_s:.1f} s)")
    print(f"  file import (archive core): {files['messages_per_s']:8.0f} msg/s {files['mb_per_s']:6.1f} MB/s  peak RSS {files['peak_rss_mb']:.0f} MB")
    print(f"  IMAP source (whole server): {imap['messages_per_s']:8.0f} msg/s {imap['mb_per_s']:6.1f} MB/s  peak RSS {imap['peak_rss_mb']:.0f} MB")
    print(f"  IMAP / file import rate:    {ratio:6.1%}")
    print(f"  IMAP run of {imap['seconds']:.1f} s: batches archived for {imap['archive_seconds']:.1f} s in the background; "
          f"waited {imap['archive_wait_seconds']:.1f} s for archiving, {imap['download_wait_seconds']:.1f} s for downloads")
    print(f"  incremental run, nothing new: {imap['incremental_seconds']:.2f} s for {imap['folders']} folders "
          f"({imap['incremental_fetched']} fetched)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"imap-{stamp}.json").write_text(json.dumps({"files": files, "imap": imap, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
