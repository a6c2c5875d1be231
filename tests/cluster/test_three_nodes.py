"""Three nodes on one machine (issue 17): A (worker + SMTP journal endpoint), B (worker), C and C2 (web
replicas), sharing only PostgreSQL, the S3 store, one Prefect server and the master key file.

The tests run in order and build on each other (one cluster for the package: it costs ~50 s to start)."""

from __future__ import annotations

import hashlib
import json
import smtplib
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster.conftest import World

NORTH, SOUTH, BOTH = "cpython-test_email", "enmime", "letters"  # corpus folders (47, 92, 164 files)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _inputs(folder: Path) -> tuple[Counter[str], int]:
    """The input messages by content (what must come back, byte for byte) as the file reader yields
    them (an mbox file's "From " line is not part of its message), and how many items it yields."""
    from mailark.sources.files.model import SourceMessage
    from mailark.sources.files.walk import iter_source

    items = list(iter_source(folder))
    return Counter(_sha(i.raw) for i in items if isinstance(i, SourceMessage)), len(items)


def _api(world: World, org: str, node: str = "c") -> httpx.Client:
    return httpx.Client(base_url=world.web(node), headers={"Authorization": f"Bearer {world.tokens[org]}"}, timeout=60)


def _listing(world: World, org: str, node: str = "c") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with _api(world, org, node) as c:
        page = 1
        while True:
            r = c.get(f"/api/orgs/{org}/archive/reader@{org}/messages", params={"per_page": 200, "page": page,
                                                                                "subfolders": True})
            assert r.status_code == 200, r.text
            out += r.json()["messages"]
            if len(out) >= r.json()["total"]:
                return out
            page += 1


def _contents(world: World, org: str, node: str = "c") -> Counter[str]:
    """Every copy of the reader's mailbox, downloaded from the web node, by content."""
    got: Counter[str] = Counter()
    with _api(world, org, node) as c:
        for m in _listing(world, org, node):
            r = c.get(f"/api/orgs/{org}/messages/{m['item_id']}/eml")
            assert r.status_code == 200, r.text
            got[_sha(r.content)] += 1
    return got


def _ledger(world: World, org: str) -> dict[str, int]:
    """The organization's ledger totals, read afresh from the shared catalogue."""
    from mailark.catalog.lake import ALIAS, open_lake

    rt: Any = world.rt
    lake = open_lake(rt.settings, rt.store)
    try:
        row = lake.execute(
            f"SELECT count(*), coalesce(sum(seen), 0), coalesce(sum(archived), 0), coalesce(sum(duplicates), 0), "
            f"coalesce(sum(quarantined), 0) FROM {ALIAS}.ingest_ledger WHERE org_id = ?", [rt.org(org).id]).fetchone()
        copies = lake.execute(f"SELECT count(*), count(DISTINCT item_id) FROM {ALIAS}.mailbox_items WHERE org_id = ?",
                              [rt.org(org).id]).fetchone()
    finally:
        lake.close()
    assert row is not None and copies is not None
    return dict(zip(("batches", "seen", "archived", "duplicates", "quarantined", "copies", "distinct_copies"),
                    [*row, *copies], strict=True))


def _imports_at_once(world: World, jobs: list[tuple[str, str, Path]]) -> list[dict[str, Any]]:
    """`mailark import` on each named node, all started together; their JSON results."""
    procs = [world.cluster.nodes[node].popen("import", str(folder), "--org", org, "--mailbox", f"reader@{org}", "--json")
             for node, org, folder in jobs]
    docs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, out + err
        docs.append(json.loads(out))
    return docs


def test_imports_on_two_nodes_at_once_store_each_message_once(world: World, corpus: Path) -> None:
    # Two organizations, one on A and one on B, at the same time.
    north, south = _imports_at_once(world, [("a", "north", corpus / NORTH), ("b", "south", corpus / SOUTH)])
    # One organization from both nodes at the same time.
    both = _imports_at_once(world, [("a", "both", corpus / BOTH), ("b", "both", corpus / BOTH)])

    for org, folder, docs in (("north", NORTH, [north]), ("south", SOUTH, [south]), ("both", BOTH, both)):
        wanted, items = _inputs(corpus / folder)
        runs = len(docs)
        total = {k: sum(int(d[k]) for d in docs) for k in ("seen", "archived", "duplicates", "quarantined", "deferred")}
        # Every file was seen by every run and ended somewhere; nothing deferred.
        assert total["seen"] == runs * items, (org, docs)
        assert total["seen"] == total["archived"] + total["duplicates"] + total["quarantined"], (org, docs)
        assert total["deferred"] == 0
        # The ledger in the shared catalogue says the same as the runs did.
        ledger = _ledger(world, org)
        assert {k: ledger[k] for k in ("seen", "archived", "duplicates", "quarantined")} == \
               {k: total[k] for k in ("seen", "archived", "duplicates", "quarantined")}, (org, ledger, docs)
        # Each message stored once: as many copies as archived, none twice, and what comes back through
        # the web node is exactly what went in (the quarantined files are the only ones missing).
        assert ledger["copies"] == ledger["distinct_copies"] == total["archived"], (org, ledger)
        got = _contents(world, org)
        assert sum(got.values()) == total["archived"]
        assert set(got) <= set(wanted), f"{org}: bytes came back that were never imported"
        assert all(n <= wanted[h] for h, n in got.items()), f"{org}: a message is stored twice"
        # What did not come back was quarantined (kept with its reason), not lost.
        assert len(set(wanted) - set(got)) <= total["quarantined"], org  # a file is quarantined once, not once a run


# ---- journal: accepted on A, drained by B ---------------------------------------------------------


def _up_pids(world: World, node: str) -> dict[str, int]:
    state = json.loads((world.cluster.nodes[node].home / "db" / "up.json").read_text())
    return {s["name"]: s["pid"] for s in state["services"]}


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _prefect(world: World) -> httpx.Client:
    return httpx.Client(base_url=world.cluster.prefect.api_url, timeout=30)


def _run_deployment(world: World, name: str, parameters: dict[str, Any], state: dict[str, str] | None = None) -> str:
    with _prefect(world) as p:
        dep = p.get(f"/deployments/name/{name}/{name}")
        assert dep.status_code == 200, dep.text
        r = p.post(f"/deployments/{dep.json()['id']}/create_flow_run",
                   json={"parameters": parameters, **({"state": state} if state else {})})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def _journal_probe(world: World, subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "partner@example.org", "reader@north", subject
    msg["Message-ID"] = f"<{hashlib.md5(subject.encode()).hexdigest()}@example.org>"
    msg.set_content("The zeppelin quartermaster confirms the cluster delivery.\n")
    return msg.as_bytes().replace(b"\n", b"\r\n")


def test_journal_mail_accepted_on_a_is_drained_by_b(world: World) -> None:
    import os
    import signal

    from mailark.control.principals import Principal
    from mailark.sources.journal.profiles import add_journal

    rt: Any = world.rt
    with rt.session() as s:
        view, _ = add_journal(s, Principal.deployment_operator(), "north", rt.master_key, rt.settings.journal.domain,
                              allow_networks=["127.0.0.0/8"])
    a_worker = _up_pids(world, "a")["prefect-worker"]
    os.kill(a_worker, signal.SIGSTOP)  # A's worker takes nothing now: whatever drains the mail runs on B
    try:
        raw = _journal_probe(world, "Cluster journal probe")
        with smtplib.SMTP("127.0.0.1", int(world.cluster.nodes["a"].env["MAILARK_SMTP_PORT"]), timeout=30) as c:
            c.sendmail("partner@example.org", [view.config["address"]], raw)
        _run_deployment(world, "journal-drain", {})  # the schedule (every minute) would do it too
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with _api(world, "north") as c:
                hits = [m for m in _listing(world, "north") if m["subject"] == "Cluster journal probe"]
                if hits:
                    r = c.get(f"/api/orgs/north/messages/{hits[0]['item_id']}/eml")
                    assert r.content == raw  # byte-exact, read on C
                    break
            time.sleep(2)
        else:
            pytest.fail("the journal mail was not drained within 180 s:\n" + world.cluster.nodes["b"].up_log()[-3000:])
    finally:
        os.kill(a_worker, signal.SIGCONT)
    # The drain that archived it ran on B's worker (a worker logs each flow run it takes).
    from mailark.catalog.lake import ALIAS, open_lake

    lake = open_lake(rt.settings, rt.store)
    try:
        run_ids = {r[0] for r in lake.execute(
            f"SELECT run_id FROM {ALIAS}.ingest_ledger WHERE org_id = ? AND archived > 0", [rt.org("north").id]).fetchall()}
    finally:
        lake.close()
    drains = [r for r in run_ids if _flow_run(world, r)["name"] == "drain SMTP journal and import drops"]
    assert len(drains) == 1, run_ids
    assert drains[0] in world.cluster.nodes["b"].up_log() and drains[0] not in world.cluster.nodes["a"].up_log()


# ---- a worker killed in the middle of a batch --------------------------------------------------------


def _flow_run(world: World, run_id: str) -> dict[str, Any]:
    with _prefect(world) as p:
        r = p.get(f"/flow_runs/{run_id}")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def _node_running(world: World, run_id: str) -> str | None:
    """Which node's worker runs the flow run (its process carries the run id in its environment)."""
    for name in ("a", "b"):
        node = world.cluster.nodes[name]
        if node.proc is None or node.proc.poll() is not None:
            continue
        for pid in _children(node.proc.pid):
            try:
                if f"PREFECT__FLOW_RUN_ID={run_id}".encode() in Path(f"/proc/{pid}/environ").read_bytes():
                    return name
            except OSError:
                continue
    return None


def test_a_worker_killed_mid_batch_its_run_is_run_again_on_the_other(world: World, corpus: Path) -> None:
    import os
    import signal

    folder = corpus / "sisimai"
    run_id = _run_deployment(world, "import-files", {"org": "east", "mailbox": "reader@east",
                                                     "sources": [str(folder)]})
    # Wait until the run has committed a batch or two and is in the middle of the next one.
    deadline, victim = time.monotonic() + 180, None
    while time.monotonic() < deadline:
        led = _ledger(world, "east")
        if led["batches"] >= 2:
            victim = _node_running(world, run_id)
            break
        time.sleep(0.5)
    assert victim is not None, f"the import did not get going: {_flow_run(world, run_id)['state']}"
    assert _flow_run(world, run_id)["state"]["type"] == "RUNNING"
    before = _ledger(world, "east")
    # A run the dying machine's worker had taken (Pending) but whose process had not started yet: it
    # never sends a heartbeat, and must not stay Pending for ever either.
    taken = _run_deployment(world, "index-mail", {"org": "east"}, state={"type": "PENDING"})
    # The machine dies: its supervisor, worker, flow run process (and SMTP endpoint), all at once.
    node = world.cluster.nodes[victim]
    assert node.proc is not None
    for pid in [node.proc.pid, *_children(node.proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    node.proc.wait()
    other = "b" if victim == "a" else "a"

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = _flow_run(world, run_id)["state"]
        if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            break
        time.sleep(2)
    run = _flow_run(world, run_id)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    assert run["run_count"] >= 2
    assert run_id in world.cluster.nodes[other].up_log()  # the survivor ran it again

    wanted, items = _inputs(folder)
    led = _ledger(world, "east")
    assert led["batches"] > before["batches"] >= 2
    # Nothing twice: what the killed attempt committed came back as duplicates; nothing lost.
    assert led["copies"] == led["distinct_copies"] == led["archived"]
    got = _contents(world, "east")
    assert set(got) <= set(wanted)
    assert all(n <= wanted[h] for h, n in got.items()), "a message is stored twice"  # the same file twice: two copies
    assert len(set(wanted) - set(got)) <= led["quarantined"]
    assert led["seen"] >= items

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _flow_run(world, taken)["state"]["type"] == "PENDING":
        time.sleep(2)
    with _prefect(world) as p:
        history = [(st["type"], st["name"]) for st in p.get("/flow_run_states/", params={"flow_run_id": taken}).json()]
    assert ("SCHEDULED", "AwaitingRetry") in history, history


# ---- every web replica answers the same ---------------------------------------------------------------


def test_second_web_replica_lists_and_reads_the_same(world: World, corpus: Path) -> None:
    # what the corpus imports above archived (without the corpus they are skipped, and so is this)
    for org in ("north", "south", "both"):
        on_c, on_c2 = _listing(world, org, "c"), _listing(world, org, "c2")
        assert on_c == on_c2 and on_c
        # the same bytes from both replicas (every copy was read byte-exact on C above; a sample here)
        with _api(world, org, "c") as c, _api(world, org, "c2") as c2:
            for m in on_c[:: max(1, len(on_c) // 8)]:
                url = f"/api/orgs/{org}/messages/{m['item_id']}/eml"
                one, two = c.get(url), c2.get(url)
                assert one.status_code == two.status_code == 200 and one.content == two.content


def _search(world: World, org: str, q: str, node: str) -> dict[str, Any]:
    with _api(world, org, node) as c:
        r = c.get(f"/api/orgs/{org}/search", params={"q": q})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def _runs_of(world: World, deployment: str) -> str:
    """The deployment's flow runs, newest first, one line each (what a failed wait shows)."""
    with _prefect(world) as p:
        dep = p.get(f"/deployments/name/{deployment}/{deployment}").json()
        r = p.post("/flow_runs/filter", json={"deployments": {"id": {"any_": [dep["id"]]}}, "sort": "EXPECTED_START_TIME_DESC",
                                               "limit": 20})
        return "\n".join(f"{f['name']} {f['state']['type']}/{f['state']['name']} start={f['start_time']} "
                         f"end={f['end_time']} runs={f['run_count']}: {(f['state'].get('message') or '')[:200]}"
                         for f in r.json())


def test_full_text_search_on_both_web_replicas(world: World) -> None:
    # The index-mail flow runs every minute on whichever worker and publishes to the object store
    # (MAILARK_SEARCH__SHARED); the web replicas refresh at each search. A run that was pending on the
    # worker killed above is queued again after MAILARK_RUN_LOST_AFTER_SECONDS (60 s here); give it
    # that and three rounds more.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        found = _search(world, "north", "zeppelin quartermaster", "c")
        if found["total"]:
            break
        time.sleep(5)
    assert [h["subject"] for h in found["hits"]] == ["Cluster journal probe"], _runs_of(world, "index-mail")
    assert _search(world, "north", "zeppelin quartermaster", "c2") == found
    assert _search(world, "south", "zeppelin", "c")["total"] == 0  # tenants never see each other


def test_every_organization_searches_the_same_on_both_web_replicas(world: World, corpus: Path) -> None:
    """The corpus mail imported above (the index is there: the test before waited for it)."""
    for org, q in (("north", "zeppelin"), ("south", "the"), ("both", "the")):
        on_c, on_c2 = _search(world, org, q, "c"), _search(world, org, q, "c2")
        assert on_c["ready"] and on_c["total"] > 0 and on_c == on_c2, (org, q)
