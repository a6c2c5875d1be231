"""apply-retention at scale: N archived copies, 10 % of them expired, one policy and one mailbox hold.

    python -m bench.retention --copies 1000000

The catalogue rows are SYNTHETIC (as in bench/metering.py): `messages` and `mailbox_items` rows
appended with DuckLake inserts, one commit per 100,000, one copy per message, 500 mailboxes, message
dates spread so that 10 % are older than the policy's 7 years. The rows point at no pack and no
part object, so the deletion measured is the catalogue's (rows, the single-instance check, the
commit), not the object store's (deleting bodies and rewriting packs costs per object on top).

Then, in a fresh child process (so its peak RSS is apply's alone), `apply_retention` runs as the
daily flow would, with a legal hold on one mailbox: evaluation of every copy, then the deletions in
batches of 5,000 through the compliance path, each audited. Reports wall time, CPU time and peak
RSS of the child, and checks the counts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROWS_PER_COMMIT = 100_000
MAILBOXES = 500


def fill(copies: int) -> None:
    from mailark.catalog.lake import catalog_lane
    from mailark.control.orgs import create_org
    from mailark.control.principals import Principal
    from mailark.control.retention import PolicySpec
    from mailark.runtime import open_runtime
    from mailark.operations.retention import save_checked

    rt = open_runtime()
    from mailark.control.orgs import ensure_mailbox

    with rt.session() as s:
        org, _ = create_org(s, "bench", rt.master_key)
        held_box, _ = ensure_mailbox(s, org, "u0@bench")  # mailbox 0 is real: the hold names it
        held_id = held_box.id
    con = rt.lake
    now = datetime.now(UTC)
    for first in range(0, copies, ROWS_PER_COMMIT):
        n = min(ROWS_PER_COMMIT, copies - first)
        with catalog_lane(rt.settings, org.id, con, rt.store):
            con.execute("BEGIN")
            # i % 10 == 0: dated 8 years ago (expired under 7 years); the rest within the last 6 years
            con.execute(
                """INSERT INTO lake.messages (org_id, message_key, batch_id, message_id, subject, from_addr, date, size,
                                              skeleton_ref, skeleton_size, attachment_count, first_seen)
                   SELECT ?, md5('m' || i::VARCHAR), 'b' || ?, '<' || i || '@bench>', 'subject ' || i, 'u@bench',
                          CASE WHEN i % 10 = 0 THEN ?::TIMESTAMPTZ - INTERVAL 2920 DAY
                               ELSE ?::TIMESTAMPTZ - to_days(CAST(i % 2000 AS INTEGER)) END,
                          4000 + (i * 7919) % 60000, NULL, 0, 0, ? FROM range(?, ?) t(i)""",
                [org.id, str(first), now, now, now, first, first + n])
            con.execute(
                """INSERT INTO lake.mailbox_items (org_id, item_id, mailbox_id, mailbox, folder, message_key, copy_sha256,
                                                   size, source, source_position, batch_id, archived_at)
                   SELECT ?, md5('item' || i::VARCHAR), CASE WHEN i % ? = 0 THEN ? ELSE 'mb' || (i % ?) END,
                          'u' || (i % ?) || '@bench', 'INBOX',
                          md5('m' || i::VARCHAR), sha256(i::VARCHAR), 4000 + (i * 7919) % 60000, 'bench', i::VARCHAR,
                          'b' || ?, ? FROM range(?, ?) t(i)""",
                [org.id, MAILBOXES, held_id, MAILBOXES, MAILBOXES, str(first), now, first, first + n])
            con.execute("COMMIT")
    op = Principal.deployment_operator()
    t0 = time.monotonic()
    save_checked(rt, op, "bench", PolicySpec("seven years", "7y"))
    print(json.dumps({"policy_save_seconds": round(time.monotonic() - t0, 2)}), file=sys.stderr)
    from mailark.operations.retention import add_hold

    add_hold(rt, op, "bench", "Case B", "benchmark hold", mailboxes=["u0@bench"])
    rt.close()


def child() -> None:
    from mailark.control.principals import Principal
    from mailark.runtime import open_runtime
    from mailark.operations.retention import apply_retention

    rt = open_runtime()
    t0, c0 = time.monotonic(), time.process_time()
    r = apply_retention(rt, Principal.deployment_operator(), "bench")
    doc = {"wall_seconds": round(time.monotonic() - t0, 1), "cpu_seconds": round(time.process_time() - c0, 1),
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
           "deleted": r.deleted, "held": r.held}
    rt.close()
    print(json.dumps(doc))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=1_000_000)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child()
        return
    home = Path(tempfile.mkdtemp(prefix="bench-retention-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARK_")}
    env |= {"MAILARK_HOME": str(home), "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api"}
    try:
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", f"from bench.retention import fill; fill({args.copies})"], env=env, check=True)
        fill_s = time.monotonic() - t0
        out = subprocess.run([sys.executable, "-m", "bench.retention", "--child"], env=env, check=True,
                             capture_output=True, text=True)
        doc = json.loads(out.stdout.strip().splitlines()[-1])
        expired = len(range(0, args.copies, 10))
        held = len([i for i in range(0, args.copies, 10) if i % MAILBOXES == 0])
        assert (doc["deleted"], doc["held"]) == (expired - held, held), doc
        print(json.dumps({"copies": args.copies, "expired": expired, "fill_seconds": round(fill_s, 1), **doc}))
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
