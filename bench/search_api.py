"""Search latency through the HTTP API against the same search in process, at 1 million documents,
for a Reader (3 mailboxes granted), an Admin (granted 90 of the 100 mailboxes) and a Compliance
officer (every mailbox by rule).

A temp home gets an organization with 100 archive mailboxes, the three users and an API token
each; an index of `--docs` documents over those mailboxes is built straight from generated mail (as
bench/search.py does: ingesting a million messages takes hours here). Then the same queries run
three ways, query by query in rotating order so no way always finds the caches warm:

* index: `catalog.search.searcher.search` alone, with the principal's permission clause;
* route: the API's route function in process (control-plane reads, the search, the audit row, one
  transaction), no HTTP;
* http: GET /api/orgs/{org}/search with the principal's token against `mailark web` (a separate
  process, uvicorn), over one keep-alive connection;
* http (REV): the same against `mailark web` of an older revision (`--before REV`, installed with
  pip into a temp directory), on the same home, interleaved with the others; or on `--before-home`,
  a home with the same organization, users and documents whose index that revision can read (an
  index in parts needs a revision that knows parts).

The index is written in as many parts as the indexer would write it (`--parts` to choose).

    python -m bench.search_api --docs 1000000 --queries 300 --before 97ace4a --keep /tmp/sapi   # reruns reuse the home
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.generate import generate_org_mail
from bench.search import build
from bench.startup import install, without_later_dependencies
from mailark.catalog.search.index import IndexState, index_dir, read_state
from mailark.catalog.search.indexer import IndexOptions
from mailark.catalog.search.text import message_text
from mailark.config.settings import SearchSettings

ROLES = ("reader", "admin", "compliance")


def setup(home: Path) -> dict[str, object]:
    """The organization, its 100 mailboxes, the three users and their tokens (saved in home/bench.json)."""
    saved = home / "bench.json"
    if saved.exists():
        return json.loads(saved.read_text())  # type: ignore[no-any-return]
    from sqlalchemy import select

    from mailark.config.settings import Settings
    from mailark.control.auth import create_token
    from mailark.control.identity import create_user
    from mailark.control.mailboxes import grant_read
    from mailark.control.models import User
    from mailark.control.orgs import create_org, ensure_mailbox
    from mailark.control.principals import Principal, user_principal
    from mailark.runtime import open_runtime

    rt = open_runtime(Settings(home=home, object_store="local", control_url=None, master_key=None, master_key_file=None))
    op = Principal.deployment_operator()
    with rt.session() as s:
        created = create_org(s, "bench", rt.master_key, users=10, mailboxes_per_user=20)
        org, domain = created.org, created.admin_login.split("@", 1)[1]
        boxes = [ensure_mailbox(s, org, f"mb{i:03d}@{domain}")[0] for i in range(100)]
        ids = [b.id for b in boxes]
        create_user(s, op, org, f"reader@{domain}", password="bench-reader-password-1")
        create_user(s, op, org, f"compliance@{domain}", password="bench-compliance-password-1", roles=("Compliance",))
        for b in boxes[:3]:
            grant_read(s, op, org, b.primary_address, user=f"reader@{domain}")
        for b in boxes[10:]:
            grant_read(s, op, org, b.primary_address, user=created.admin_login)
    tokens = {}
    with rt.session() as s:
        for role, login in (("reader", f"reader@{domain}"), ("admin", created.admin_login),
                            ("compliance", f"compliance@{domain}")):
            user = s.scalar(select(User).where(User.login == login))
            user.must_change_password = False  # the first admin's one-time password: as if changed
            tokens[role] = create_token(s, user_principal(user), "bench").token
    info = {"org": "bench", "org_id": org.id, "mailbox_ids": ids, "tokens": tokens,
            "logins": {"reader": f"reader@{domain}", "admin": created.admin_login, "compliance": f"compliance@{domain}"}}
    rt.close()
    saved.write_text(json.dumps(info))
    return info


def sample_texts(sample: int) -> list:  # type: ignore[type-arg]
    return [message_text(c.raw) for c in generate_org_mail(200, sample, seed=11) if c.folder == "Sent"]


def queries(texts: list, n: int) -> list[str]:  # type: ignore[type-arg]
    words = [w for t in texts[:200] for w in t.subject.split() if w.isalpha() and len(w) > 4][:50] or ["report"]
    senders = [t.from_[0].split()[-1] for t in texts[:50] if t.from_]
    r = random.Random(9)
    kinds = [lambda: r.choice(words), lambda: '"' + " ".join(r.choice(texts).subject.split()[:2]) + '"',
             lambda: f"from:{r.choice(senders)}", lambda: f"after:202{r.randrange(4)}-0{r.randrange(1, 9)}-01",
             lambda: f"has:attachment {r.choice(words)}", lambda: f"{r.choice(words)} OR {r.choice(words)}", lambda: ""]
    return [kinds[i % len(kinds)]() for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_web(home: Path, site: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """`mailark web` on a free port: of this checkout, or of the revision installed at `site`."""
    port = free_port()
    env = {**os.environ, "MAILARK_HOME": str(home), "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api"}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    # Started outside the checkout: `-m` puts the working directory first on sys.path, ahead of
    # PYTHONPATH, so from the checkout the older revision's server ran this checkout's code.
    proc = subprocess.Popen([sys.executable, "-m", "mailark.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=str(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/openapi.json", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("mailark web did not start")


def pct(v: list[float], p: float) -> float:
    s = sorted(v)
    return round(s[int(p * (len(s) - 1))], 2)


def measure(home: Path, info: dict[str, object], qs: list[str], before: tuple[str, Path] | None = None,
            before_home: Path | None = None) -> dict[str, object]:
    from sqlalchemy import select

    from mailark.catalog.search.searcher import IndexCache, search
    from mailark.config.settings import Settings
    from mailark.control.models import User
    from mailark.control.principals import user_principal
    from mailark.control.reading import readable, reads_every_mailbox
    from mailark.dashboards.api import search as search_api
    from mailark.dashboards.deps import AppContext
    from mailark.operations.searching import mailbox_resolver
    from mailark.runtime import open_runtime

    route = getattr(search_api, "search_sync", search_api.search)  # the route's work without the thread pool trip

    settings = Settings(home=home, object_store="local", control_url=None, master_key=None, master_key_file=None)
    rt = open_runtime(settings)
    ctx = AppContext(rt, secure_cookies=False)
    cache = IndexCache()
    org = str(info["org"])
    principals = {}
    with rt.session() as s:
        for role, login in info["logins"].items():  # type: ignore[attr-defined]
            principals[role] = user_principal(s.scalar(select(User).where(User.login == login)))
    servers = [start_web(home)]
    tokens = [info["tokens"]]
    if before is not None:
        servers.append(start_web(before_home or home, before[1]))
        tokens.append(json.loads(((before_home or home) / "bench.json").read_text())["tokens"])
    clients = [{role: httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tok}"}, timeout=30)
                for role, tok in toks.items()} for (_, url), toks in zip(servers, tokens, strict=True)]  # type: ignore[attr-defined]

    def by_index(role: str, q: str) -> float:
        with rt.session() as s:  # the permission clause's inputs, not timed
            o, allowed = readable(s, principals[role], org)
            every = reads_every_mailbox(s, principals[role], o)
            resolver = mailbox_resolver(s, o)
            t = time.perf_counter()
            search(settings.db_dir, o.id, q, allowed, resolve_mailbox=resolver, every_mailbox=every, cache=cache)
            return time.perf_counter() - t

    def by_route(role: str, q: str) -> float:
        t = time.perf_counter()
        s = rt.control()
        try:
            route(org, principals[role], s, ctx, q=q, page=1, per_page=25, sort="newest", mailbox=None)
            s.commit()
        finally:
            s.close()
        return time.perf_counter() - t

    def http(n: int):  # type: ignore[no-untyped-def]
        def by_http(role: str, q: str) -> float:
            t = time.perf_counter()
            r = clients[n][role].get(f"/api/orgs/{org}/search", params={"q": q})
            assert r.status_code == 200, r.text
            return time.perf_counter() - t
        return by_http

    ways = {"index": by_index, "route": by_route, "http": http(0)}
    if before is not None:
        ways[f"http ({before[0]})"] = http(1)
    lat: dict[str, dict[str, list[float]]] = {role: {w: [] for w in ways} for role in ROLES}
    try:
        for role in ROLES:  # warm-up: open the index, connections, caches
            for w in ways.values():
                w(role, "warmup")
        for i, q in enumerate(qs):
            for role in ROLES:
                order = list(ways)[i % len(ways):] + list(ways)[: i % len(ways)]
                for w in order:
                    lat[role][w].append(ways[w](role, q) * 1000)
    finally:
        for cs in clients:
            for c in cs.values():
                c.close()
        for proc, _ in servers:
            proc.terminate()
            proc.wait(10)
        rt.close()
    return {role: {w: {"p50_ms": pct(v, 0.5), "p95_ms": pct(v, 0.95), "mean_ms": round(statistics.mean(v), 2)}
                   for w, v in ways_lat.items()} for role, ways_lat in lat.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=3000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--heap-mb", type=int, default=256)
    ap.add_argument("--keep", type=Path, default=None, help="work directory to keep (and reuse its home and index)")
    ap.add_argument("--before", default=None, help="also measure the API of this older revision")
    ap.add_argument("--before-home", type=Path, default=None,
                    help="the older revision serves this home (the same organization, users and documents, its "
                         "index as that revision writes it, e.g. in one part), not this run's")
    ap.add_argument("--parts", type=int, default=None,
                    help="write the index in this many parts (default: as the indexer would, index.parts_for)")
    a = ap.parse_args()
    work = a.keep or Path(tempfile.mkdtemp(prefix="mailark-search-api-bench-"))
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["MAILARK_HOME"] = str(home)
    try:
        info = setup(home)
        texts = sample_texts(a.sample)
        path = index_dir(home / "db", str(info["org_id"]))
        index_s = None
        if not (path / "state.json").exists():
            parts = a.parts or IndexOptions.from_settings(SearchSettings()).parts(a.docs)
            index_s = round(build(path, texts, a.docs, a.threads, a.heap_mb, list(info["mailbox_ids"]), parts), 1)  # type: ignore[arg-type]
        before = None
        if a.before:
            site = work / f"site-{a.before}"
            target = site / "site" if (site / "site").is_dir() else install(a.before, site)
            without_later_dependencies(a.before, target)  # also a site kept from before the bench hid them
            before = (a.before, target)
        out = {"documents": a.docs, "queries_per_principal": a.queries, "index_s": index_s,
               "load_average": os.getloadavg()[0],
               "parts": (read_state(path) or IndexState()).parts,
               "by_principal": measure(home, info, queries(texts, a.queries), before, a.before_home)}
        print(json.dumps(out, indent=2))
    finally:
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
