"""Microsoft 365 sync benchmark: the first full sync of a tenant through Graph, against a file import
of the same copies, measured in one run.

    python -m bench.graph_sync --users 20 --messages 2000

The generated organization's copies (bench/generate/) become the mailboxes of a tenant on the
local Graph test server (tests/peers/graph_server.py: HTTPS on 127.0.0.1, in this process); the
sync (msal token, folder listing, delta pages, one `/$value` GET per message, the whole archive
pipeline) runs in a child process pinned to one core, like `bench.ingest`'s import of the same
tree. The ratio tells what fetching each message over HTTPS costs on top of archiving it; a real
tenant adds network latency and Microsoft's throttling on top of that.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.ingest import OUT, generate, message_files, pin_one_core, run_ingest_child

REPO = Path(__file__).resolve().parents[1]


def load_tenant(tree: Path):  # type: ignore[no-untyped-def]
    """A test tenant holding the tree's copies: <mailbox>/<Inbox|Sent>/<n>.eml."""
    from tests.peers.graph_server import Tenant

    domain = next(d.name for d in tree.iterdir() if d.is_dir()).split("@", 1)[1]
    tenant = Tenant(domain=domain)
    for box in sorted(d for d in tree.iterdir() if d.is_dir()):
        user = tenant.add_user(box.name.split("@", 1)[0])
        for folder in sorted(d for d in box.iterdir() if d.is_dir()):
            target = "sentitems" if folder.name.lower().startswith("sent") else "inbox"
            for f in sorted(folder.iterdir()):
                tenant.add_message(user, target, f.read_bytes())
    return tenant


def child(config_json: str, secret: str) -> None:
    pin_one_core()
    from mailark.control import sources
    from mailark.control.orgs import create_org
    from mailark.control.principals import Principal
    from mailark.runtime import open_runtime
    from mailark.sources.graph.sync import sync_profile

    rt = open_runtime()
    with rt.session() as s:
        create_org(s, "bench", rt.master_key, users=10_000, storage_gb=1000)
    with rt.session(write=True) as s:
        pid = sources.create_source(s, Principal.deployment_operator(), "bench", "graph", "m365",
                                    json.loads(config_json), {"client_secret": secret}, rt.master_key).id
    rt.archive_for(rt.org("bench"))  # catalogue start-up before the clock starts, as bench.ingest does
    t = time.perf_counter()
    res = sync_profile(rt, pid)
    seconds = time.perf_counter() - t
    c = res.counts
    json.dump({"status": res.status, "error": res.error, "seen": c.seen, "archived": c.archived,
               "duplicates": c.duplicates, "quarantined": c.quarantined, "mailboxes": res.mailboxes,
               "folders": res.folders, "seconds": seconds, "messages_per_s": c.seen / seconds}, sys.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--page-size", type=int, default=50)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--secret", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.secret or os.environ["BENCH_SECRET"])
        return
    from tests.peers.graph_server import GraphServer

    OUT.mkdir(parents=True, exist_ok=True)
    tree = generate(a.users, a.messages, a.seed)
    files = message_files(tree)
    nbytes = sum(f.stat().st_size for f in files)
    tenant = load_tenant(tree)
    with tempfile.TemporaryDirectory() as tmp:
        server = GraphServer(tenant, Path(tmp) / "tls").start()
        try:
            home = OUT / "home-graph"
            subprocess.run(["rm", "-rf", str(home)], check=True)
            env = {**os.environ, "MAILARK_HOME": str(home), "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api",
                   "MAILARK_GRAPH__CA_FILE": str(server.ca_file), "MAILARK_GRAPH__PAGE_SIZE": str(a.page_size),
                   "BENCH_SECRET": tenant.client_secret}
            p = subprocess.run([sys.executable, "-m", "bench.graph_sync", "--child", json.dumps(server.profile_config())],
                               env=env, capture_output=True, text=True, cwd=REPO)
        finally:
            server.stop()
    if p.returncode != 0:
        raise SystemExit(f"graph sync child failed:\n{p.stderr}")
    graph = json.loads(p.stdout)
    ing = run_ingest_child(tree, OUT / "home-graph-import", per_mailbox=True)
    ratio = graph["messages_per_s"] / float(ing["messages_per_s"])
    print(f"\n== generated: {a.users} users, {a.messages} messages, {len(files)} copies, {nbytes / 1e6:.1f} MB")
    print(f"  Graph first sync (local HTTPS server): {graph['messages_per_s']:7.0f} msg/s "
          f"{nbytes / graph['seconds'] / 1e6:6.1f} MB/s  ({graph['mailboxes']} mailboxes, {graph['folders']} folders, "
          f"{graph['archived']} archived, status {graph['status']})")
    print(f"  file import of the same copies:        {float(ing['messages_per_s']):7.0f} msg/s "
          f"{float(ing['mb_per_s']):6.1f} MB/s")
    print(f"  Graph / import rate:                   {ratio:6.1%}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"graph-{stamp}.json").write_text(json.dumps({"graph": graph, "import": ing, "ratio": ratio}, indent=2,
                                                        default=str))


if __name__ == "__main__":
    main()
