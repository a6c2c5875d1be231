"""Audit log pages at scale: the SQL filters and keyset paging against the old fetch-all-and-filter.

    python -m bench.audit_query --events 200000

Builds a fresh control plane (SQLite, the default) with --orgs organizations and --events audit
events in one valid hash chain (bulk-inserted: `audit.record` would take minutes; `verify_chain`
checks the result). Half of the events belong to one large organization ("big"), the rest to the
others. The mix: mail.read 60 %, auth.login 20 % (5 % of them failed), content.export and its
downloads, admin changes, request.denied 1 % (outcome denied); 200 actors in "big"; one event per
~0.4 s over about a day.

For each page (newest first, 100 events, in "big") it times, in the same run and database:
- sql: `control.audit.list_events` with the filter (what the pages and API do now);
- sql, no 0009 indexes: the same after dropping the indexes of migration 0009;
- old: what the page did before: every event of the organization by seq (limit 100,000), filtered
  and reversed in Python, then the first 100.
Best of --repeat runs each. Also: walking all pages of a filter with the cursor, the CSV export
stream, and `verify_chain` (the page shows its verdict): the full walk, and the incremental one the
pages use (a full checkpoint at the head, then --new-events appended one transaction each; its
checkpoint is rolled back after each timing so every repeat walks the same new events), beside the
full walk over the same, longer chain.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import shutil
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"


def fill(rt: Any, org_ids: list[str], n: int, seed: int = 7) -> float:
    """n events in one chain, bulk-inserted in batches; returns the seconds it took."""
    from sqlalchemy import insert, update

    from mailark.control import audit
    from mailark.control.models import AuditEvent, AuditHead

    rnd = random.Random(seed)
    start = datetime(2026, 11, 26, tzinfo=UTC)
    big, others = org_ids[0], org_ids[1:]
    prev, rows, t0 = audit.GENESIS, [], time.perf_counter()
    with rt.session() as s:
        for seq in range(1, n + 1):
            org = big if rnd.random() < 0.5 else rnd.choice(others)
            actor = f"user{rnd.randrange(200)}@{org[:6]}"
            r = rnd.random()
            if r < 0.60:
                action, target, outcome = "mail.read", f"item-{rnd.randrange(10**9):09d}", "ok"
            elif r < 0.80:
                action, target = "auth.login", actor
                outcome = "failed" if rnd.random() < 0.05 else "ok"
            elif r < 0.85:
                action, target, outcome = "content.export", f"export-{seq}", "ok"
            elif r < 0.90:
                action, target, outcome = "content.export.download", f"export-{seq - 7}", "ok"
            elif r < 0.99:
                action = rnd.choice(["user.create", "group.add_member", "role.assign", "mailbox.grant", "source.update"])
                target, outcome = f"thing-{rnd.randrange(5000)}", "ok"
            else:
                action, target, outcome = "request.denied", f"GET /api/orgs/x/users/{rnd.randrange(100)}", "denied"
            fields = {"seq": seq, "at": (start + timedelta(milliseconds=400 * seq)).isoformat(timespec="microseconds"),
                      "org_id": org, "actor_kind": "user", "actor_id": actor[:32], "actor_login": actor,
                      "action": action, "target": target, "outcome": outcome, "details": "{}", "prev_hash": prev}
            fields["hash"] = prev = audit.event_hash(fields)
            rows.append(fields)
            if len(rows) == 20_000:
                s.execute(insert(AuditEvent), rows)
                rows = []
        if rows:
            s.execute(insert(AuditEvent), rows)
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=n, hash=prev))
    return time.perf_counter() - t0


def old_page(s: Any, org: Any, keep: Callable[[Any], bool]) -> list[Any]:
    """The page before this change: fetch every event of the organization, filter in Python."""
    from sqlalchemy import select

    from mailark.control.audit import AuditEntry
    from mailark.control.models import AuditEvent

    rows = s.scalars(select(AuditEvent).where(AuditEvent.seq > 0, AuditEvent.org_id == org.id)
                     .order_by(AuditEvent.seq).limit(100_000))
    events = [AuditEntry(r.seq, r.at, r.org_id, r.actor_login, r.action, r.target, r.outcome, json.loads(r.details))
              for r in rows]
    return [e for e in reversed(events) if keep(e)][:100]


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--orgs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5, help="repeat each timing, keep the best")
    ap.add_argument("--new-events", type=int, default=1000, help="events appended after the checkpoint")
    ap.add_argument("--keep", action="store_true", help="keep bench/out/home-audit")
    a = ap.parse_args()

    home = OUT / "home-audit"
    shutil.rmtree(home, ignore_errors=True)
    os.environ["MAILARK_HOME"] = str(home)
    from sqlalchemy import text

    from mailark.control import audit
    from mailark.control.audit import AuditFilter
    from mailark.control.orgs import create_org
    from mailark.control.principals import Principal
    from mailark.runtime import open_runtime
    from mailark.config.settings import reset_settings_cache

    reset_settings_cache()
    rt = open_runtime()
    with rt.session() as s:
        orgs = [create_org(s, "big" if i == 0 else f"org{i:02d}", rt.master_key, users=500, storage_gb=100).org
                for i in range(a.orgs)]
        s.execute(text("DELETE FROM audit_events"))  # org.create events: the bench writes its own chain
        s.execute(text("UPDATE audit_head SET seq = 0, hash = :g"), {"g": audit.GENESIS})
        s.execute(text("DELETE FROM audit_checkpoints"))
    fill_s = fill(rt, [o.id for o in orgs], a.events)
    big = orgs[0]
    p = Principal.deployment_operator()
    with rt.control() as s:
        n_big = s.execute(text("SELECT count(*) FROM audit_events WHERE org_id = :o"), {"o": big.id}).scalar()
        t0 = time.perf_counter()
        verdict = audit.verify_chain(s)
        verify_s = time.perf_counter() - t0
    assert verdict.ok and verdict.events == a.events, verdict
    print(f"{a.events:,} events ({n_big:,} in 'big') inserted in {fill_s:.1f} s; verify_chain {verify_s:.2f} s")

    day = datetime(2026, 11, 26, tzinfo=UTC) + timedelta(milliseconds=400 * a.events // 2)  # mid-log
    day = day.replace(minute=0, second=0, microsecond=0)
    first_hour = datetime(2026, 11, 26, 1, tzinfo=UTC)
    last_hour = datetime(2026, 11, 26, tzinfo=UTC) + timedelta(milliseconds=400 * a.events) - timedelta(hours=1)
    cases: list[tuple[str, AuditFilter, Callable[[Any], bool]]] = [
        ("no filter", AuditFilter(), lambda e: True),
        ("action = auth.login", AuditFilter(action="auth.login"), lambda e: e.action == "auth.login"),
        ("action prefix content. (10 %)", AuditFilter(action="content."), lambda e: e.action.startswith("content.")),
        ("action prefix mail. (60 %)", AuditFilter(action="mail."), lambda e: e.action.startswith("mail.")),
        ("action prefix role. (1.8 %)", AuditFilter(action="role."), lambda e: e.action.startswith("role.")),
        ("actor = user7@…", AuditFilter(actor=f"user7@{big.id[:6]}"), lambda e: e.actor == f"user7@{big.id[:6]}"),
        ("outcome = denied", AuditFilter(outcome="denied"), lambda e: e.outcome == "denied"),
        ("outcome failed + actor", AuditFilter(outcome="failed", actor=f"user7@{big.id[:6]}"),
         lambda e: e.outcome == "failed" and e.actor == f"user7@{big.id[:6]}"),
        ("target contains 'users/42'", AuditFilter(target="users/42"), lambda e: "users/42" in e.target),
        ("one hour in the middle", AuditFilter(since=day, until=day + timedelta(hours=1)),
         lambda e: day.isoformat(timespec="microseconds") <= e.at < (day + timedelta(hours=1)).isoformat(timespec="microseconds")),
        ("the first hour", AuditFilter(until=first_hour),
         lambda e: e.at < first_hour.isoformat(timespec="microseconds")),
        ("the last hour", AuditFilter(since=last_hour), lambda e: e.at >= last_hour.isoformat(timespec="microseconds")),
    ]

    def sql_page(f: AuditFilter) -> list[Any]:
        with rt.control() as s:
            return list(audit.list_events(s, p, big.name, filters=f, newest_first=True, limit=100))

    def run_old(keep: Callable[[Any], bool]) -> list[Any]:
        with rt.control() as s:
            return old_page(s, big, keep)

    results: list[dict[str, Any]] = []
    for name, f, keep in cases:
        t_sql, got = best(lambda f=f: sql_page(f), a.repeat)
        t_old, want = best(lambda keep=keep: run_old(keep), max(1, a.repeat // 2))
        assert [e.seq for e in got] == [e.seq for e in want], name  # same page both ways
        results.append({"case": name, "rows": len(got), "sql_ms": t_sql * 1000, "old_ms": t_old * 1000})

    # Deployment-wide pages (the operator's): no old page to compare with.
    wide = [("deployment: actor = user7@…", AuditFilter(actor=f"user7@{big.id[:6]}")),
            ("deployment: action = role.assign", AuditFilter(action="role.assign")),
            ("deployment: outcome = denied", AuditFilter(outcome="denied")),
            ("deployment: org = org05, action prefix auth.", AuditFilter(org="org05", action="auth."))]

    def wide_page(f: AuditFilter) -> list[Any]:
        with rt.control() as s:
            return list(audit.list_events(s, p, None, filters=f, newest_first=True, limit=100))

    wide_results = [{"case": name, "f": f, "rows": len(wide_page(f)), "sql_ms": best(lambda f=f: wide_page(f), a.repeat)[0] * 1000}
                    for name, f in wide]

    # Walk every page of a common filter with the cursor, and the CSV export's stream.
    walk_filter = AuditFilter(action="auth.login")
    t0, pages, seen, cursor = time.perf_counter(), 0, 0, None
    while True:
        with rt.control() as s:
            page = audit.list_events(s, p, big.name, filters=walk_filter, before_seq=cursor, newest_first=True, limit=100)
        pages, seen, cursor = pages + 1, seen + len(page), page.older
        if cursor is None:
            break
    walk_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    exported = sum(1 for _ in audit.iter_events(rt.control, p, big.name, AuditFilter(), a.events))
    export_s = time.perf_counter() - t0

    # The chain verdict: incremental from a checkpoint (what the pages do) against the full walk.
    with rt.session() as s:
        assert audit.verify_chain(s, full=True).ok  # the nightly one: a full checkpoint at the head
    t0 = time.perf_counter()
    for i in range(a.new_events):
        with rt.session() as s:
            audit.record(s, p, "mail.read", org_id=big.id, target=f"new-{i}")
    new_s = time.perf_counter() - t0

    def verdict(full: bool) -> Any:
        with rt.control() as s:  # not committed: the checkpoint it records goes, every repeat walks the same
            return audit.verify_chain(s, full=full)

    inc_s, inc = best(lambda: verdict(False), a.repeat)
    assert inc.ok and inc.events_checked == a.new_events + 1 and inc.from_seq == a.events, inc
    full2_s, full2 = best(lambda: verdict(True), 1)
    assert full2.ok and full2.events_checked == a.events + a.new_events
    with rt.session() as s:
        assert audit.verify_chain(s, full=False).ok  # committed: now nothing is new
    idle_s, idle = best(lambda: verdict(False), a.repeat)
    assert idle.ok and idle.events_checked == 1

    # The same pages without the indexes of migration 0009.
    def appends(n: int = 500) -> float:
        """Seconds per audit.record, each in its own transaction (as a request writes it)."""
        t0 = time.perf_counter()
        for i in range(n):
            with rt.session() as s:
                audit.record(s, p, "bench.append", org_id=big.id, target=f"append-{i}")
        return (time.perf_counter() - t0) / n

    append_ix = appends()
    m = importlib.import_module("mailark.control.migrations.versions.0009_audit_index")
    with rt.session() as s:
        for ix in m.INDEXES:
            s.execute(text(f"DROP INDEX {ix}"))
    for r, (_name, f, _keep) in zip(results, cases, strict=True):
        r["noix_ms"] = best(lambda f=f: sql_page(f), a.repeat)[0] * 1000
    for r in wide_results:
        r["noix_ms"] = best(lambda f=r["f"]: wide_page(f), a.repeat)[0] * 1000
    append_noix = appends()

    print(f"\nnewest-first page of 100 in 'big' ({n_big:,} of {a.events:,} events), best of {a.repeat}:\n")
    print("| filter | events on the page | SQL (0009 indexes) | SQL without 0009 indexes | old fetch-all + Python | old / SQL |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['case']} | {r['rows']} | {r['sql_ms']:.1f} ms | {r['noix_ms']:.1f} ms | {r['old_ms']:.0f} ms "
              f"| {r['old_ms'] / r['sql_ms']:.0f}x |")
    print("\n| deployment-wide page of 100 | events | SQL (0009 indexes) | SQL without 0009 indexes |")
    print("|---|---|---|---|")
    for r in wide_results:
        print(f"| {r['case']} | {r['rows']} | {r['sql_ms']:.1f} ms | {r['noix_ms']:.1f} ms |")
    print(f"\nall {pages:,} pages of action = auth.login ({seen:,} events) walked with the cursor: {walk_s:.2f} s "
          f"({walk_s / pages * 1000:.1f} ms a page)")
    print(f"CSV export stream of 'big' ({exported:,} events, chunks of 1,000): {export_s:.2f} s")
    print(f"audit.record, one transaction each: {append_ix * 1000:.2f} ms with the 0009 indexes, "
          f"{append_noix * 1000:.2f} ms without")
    print(f"verify_chain over {a.events:,} events: {verify_s:.2f} s; bulk insert: {fill_s:.1f} s")
    print(f"\nchain verdict with a checkpoint at event {a.events:,} and {a.new_events:,} new events "
          f"(appended in {new_s:.1f} s, one transaction each):\n")
    print("| verification | events recomputed | time |")
    print("|---|---|---|")
    print(f"| full (nightly, `mailark audit verify`) | {full2.events_checked:,} | {full2_s:.2f} s |")
    print(f"| incremental (pages, API), {a.new_events:,} new events | {inc.events_checked:,} | {inc_s * 1000:.1f} ms |")
    print(f"| incremental, nothing new | {idle.events_checked} | {idle_s * 1000:.1f} ms |")
    print(json.dumps({"median_sql_ms": statistics.median(r["sql_ms"] for r in results),
                      "median_old_ms": statistics.median(r["old_ms"] for r in results),
                      "verify_full_s": full2_s, "verify_incremental_ms": inc_s * 1000,
                      "verify_incremental_idle_ms": idle_s * 1000}))
    rt.close()
    if not a.keep:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
