"""Journal benchmark: SMTP journaling throughput against the archive core's file import, in one run.

    python -m bench.journal --messages 2000 --connections 4

The same generated messages (the sender's copy of each, bench/generate/, CRLF as SMTP carries
it) go three ways, each into a fresh mailark home:
1. file import (flows/importing.run_import, the `mailark import` path) into one archive mailbox;
2. SMTP to the journal endpoint (plain journal mail): `--connections` smtplib clients in this
   process, the endpoint in a child process; the clock runs from the first MAIL to the last 250,
   i.e. until every message is sealed and fsynced as a drop; then the drain (a second child) archives
   the drops into the journal mailbox and deletes them;
3. the same as 2 with every message wrapped in an Exchange envelope journal report (unwrapped by
   the drain; the report names one recipient, so each original lands in the journal mailbox only).
Children are not pinned to a core: the endpoint and its clients run side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import smtplib
import subprocess
import sys
import threading
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
REPO = Path(__file__).resolve().parents[1]
DOMAIN = "journal.localhost"


def messages(users: int, count: int, seed: int) -> list[bytes]:
    """`count` distinct messages (each one's Sent copy), with CRLF line endings."""
    from bench.generate import generate_org_mail

    out = []
    for c in generate_org_mail(users, count, seed=seed):
        if c.folder == "Sent":
            raw = re.sub(rb"\r?\n", b"\r\n", c.raw)
            out.append(raw if raw.endswith(b"\r\n") else raw + b"\r\n")
    return out


def report_of(raw: bytes, n: int) -> bytes:
    b = f"_journal_{n:07d}_"
    head = (f"X-MS-Journal-Report: \r\nFrom: Microsoft Exchange <exchange@bench.example>\r\nTo: journal@bench.{DOMAIN}\r\n"
            f"Subject: journal report\r\nMessage-ID: <jr{n}@bench.example>\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n')
    body = f"Sender: user{n % 50}@example.org\r\nSubject: s\r\nMessage-Id: <m{n}@example.org>\r\nTo: someone@example.org\r\n"
    return (head.encode() + f"--{b}\r\nContent-Type: text/plain\r\n\r\n{body}\r\n--{b}\r\n".encode()
            + b"Content-Type: message/rfc822\r\n\r\n" + raw + f"\r\n--{b}--\r\n".encode())


def env_for(home: Path) -> dict[str, str]:
    shutil.rmtree(home, ignore_errors=True)
    return {**os.environ, "MAILARK_HOME": str(home), "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api",
            "MAILARK_JOURNAL__DOMAIN": DOMAIN, "PYTHONPATH": str(REPO)}


def child(mode: str, arg: str | None) -> None:
    from mailark.control.orgs import create_org
    from mailark.runtime import open_runtime

    rt = open_runtime()
    if mode == "import":
        from mailark.sources.files.importing import run_import

        with rt.session() as s:
            create_org(s, "bench", rt.master_key, users=10_000, storage_gb=1000)
        rt.archive_for(rt.org("bench"))
        t = time.perf_counter()
        r = run_import(rt, "bench", "archive@bench", [Path(arg or "")])
        json.dump({"seconds": time.perf_counter() - t, **r.counts.as_dict()}, sys.stdout)
    elif mode == "serve":
        from mailark.control.principals import Principal
        from mailark.sources.journal.endpoint import JournalEndpoint
        from mailark.sources.journal.profiles import add_journal

        with rt.session() as s:
            org, _ = create_org(s, "bench", rt.master_key, users=10_000, storage_gb=1000)
            add_journal(s, Principal.deployment_operator(), org, rt.master_key, DOMAIN, allow_networks=["127.0.0.0/8"])
        ep = JournalEndpoint(rt.settings, host="127.0.0.1", port=0, runtime=rt)
        _, port = ep.start()
        print(port, flush=True)
        sys.stdin.read()  # until the parent closes our stdin
        ep.stop()
    elif mode == "drain":
        from mailark.sources.journal.drain import drain_all

        rt.archive_for(rt.org("bench"))  # steady state: catalogue and keys open before the clock starts
        t = time.perf_counter()
        results = drain_all(rt)
        c = results[0].counts
        json.dump({"seconds": time.perf_counter() - t, "drops": results[0].drops, "removed": results[0].removed,
                   **c.as_dict()}, sys.stdout)
    rt.close()


def run_child(mode: str, env: dict[str, str], arg: str | None = None) -> dict[str, object]:
    p = subprocess.run([sys.executable, "-m", "bench.journal", "--child", mode, *([arg] if arg else [])],
                       env=env, capture_output=True, text=True, cwd=REPO)
    if p.returncode != 0:
        raise SystemExit(f"{mode} child failed:\n{p.stderr}")
    return json.loads(p.stdout)  # type: ignore[no-any-return]


def smtp_run(payloads: list[bytes], home: Path, connections: int) -> dict[str, object]:
    env = env_for(home)
    srv = subprocess.Popen([sys.executable, "-m", "bench.journal", "--child", "serve"], env=env, cwd=REPO,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(srv.stdout.readline())  # type: ignore[union-attr]
        to = [f"journal@bench.{DOMAIN}"]
        errors: list[str] = []

        def client(part: list[bytes]) -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as c:
                for raw in part:
                    refused = c.sendmail("", to, raw)
                    if refused:
                        errors.append(str(refused))

        threads = [threading.Thread(target=client, args=(payloads[i::connections],)) for i in range(connections)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        smtp_s = time.perf_counter() - t
    finally:
        srv.stdin.close()  # type: ignore[union-attr]
        srv.wait(timeout=60)
    if errors:
        raise SystemExit(f"messages refused: {errors[:3]}")
    drained = run_child("drain", {**env})
    return {"smtp_seconds": smtp_s, "smtp_messages_per_s": len(payloads) / smtp_s,
            "smtp_mb_per_s": sum(map(len, payloads)) / smtp_s / 1e6, "drain": drained,
            "drain_messages_per_s": len(payloads) / float(drained["seconds"]),  # type: ignore[arg-type]
            "end_to_end_messages_per_s": len(payloads) / (smtp_s + float(drained["seconds"]))}  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--connections", type=int, default=4, help="parallel SMTP sessions")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], a.child[1] if len(a.child) > 1 else None)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    msgs = messages(a.users, a.messages, a.seed)
    total = sum(map(len, msgs))
    tree = OUT / f"journal-gen-u{a.users}-m{a.messages}-s{a.seed}"
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "Sent").mkdir(parents=True)
    for i, raw in enumerate(msgs):
        (tree / "Sent" / f"{i:07d}.eml").write_bytes(raw)

    imp = run_child("import", env_for(OUT / "home-journal-import"), str(tree))
    imp_rate = len(msgs) / float(imp["seconds"])  # type: ignore[arg-type]
    plain = smtp_run(msgs, OUT / "home-journal-smtp", a.connections)
    reports = smtp_run([report_of(m, i) for i, m in enumerate(msgs)], OUT / "home-journal-reports", a.connections)

    print(f"\n== {len(msgs)} messages, {total / 1e6:.1f} MB ({a.users} users, seed {a.seed}), {a.connections} SMTP sessions")
    print(f"  file import (archive core):        {imp_rate:8.0f} msg/s  ({imp['archived']} archived)")
    for name, r in (("plain journal mail", plain), ("Exchange journal reports", reports)):
        d = r["drain"]
        print(f"  {name}:")
        print(f"    SMTP to durable drop:            {r['smtp_messages_per_s']:8.0f} msg/s  {r['smtp_mb_per_s']:6.1f} MB/s  "
              f"({r['smtp_messages_per_s'] / imp_rate:.0%} of file import)")
        print(f"    drain (drops -> archive):        {r['drain_messages_per_s']:8.0f} msg/s  "
              f"({r['drain_messages_per_s'] / imp_rate:.0%} of file import; {d['archived']} archived, {d['quarantined']} quarantined)")
        print(f"    end to end (SMTP + drain):       {r['end_to_end_messages_per_s']:8.0f} msg/s  "
              f"({r['end_to_end_messages_per_s'] / imp_rate:.0%} of file import)")
    doc = {"messages": len(msgs), "bytes": total, "connections": a.connections, "file_import": imp,
           "file_import_messages_per_s": imp_rate, "journal_plain": plain, "journal_reports": reports}
    (OUT / f"journal-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(doc, indent=2, default=str))


if __name__ == "__main__":
    main()
