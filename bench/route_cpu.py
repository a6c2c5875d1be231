"""CPU per request of the API's search route: in process (`route`), or of the whole `mailark web`
server answering over HTTP (`http`: token check, route matching, dependencies, the route, the
response), this checkout against an older revision served side by side.

Wall time on a shared machine under load cannot show a few milliseconds; CPU time can
(`time.process_time` in process; the server's utime + stime from /proc/PID/stat over HTTP). Run it
against a home made by bench/search_api.py (a copy of its control plane is enough, the index can be
linked: the HTTP mode writes audit rows).

    python -m bench.route_cpu route /tmp/sapi-small/home compliance 300
    PYTHONPATH=/tmp/sapi-1m/site-994fd05/site python -m bench.route_cpu route /tmp/sapi-small/home compliance 300
    python -m bench.route_cpu http /tmp/s8/home --before cfc5f51 --site /tmp/s8/site-cfc5f51 --requests 200 --rounds 4

The HTTP mode sends a query that matches nothing (`from:nobodyxyz`), so the index costs ~1 ms and
what is measured is the request around it; servers are called in blocks alternating A B A B.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

CHEAP = "from:nobodyxyz"


def route_cpu(home: Path, role: str, n: int) -> None:
    os.environ["MAILARK_HOME"] = str(home)
    from sqlalchemy import select

    import mailark
    from mailark.config.settings import Settings
    from mailark.control.models import User
    from mailark.control.principals import user_principal
    from mailark.dashboards.api import search as search_api
    from mailark.dashboards.deps import AppContext
    from mailark.runtime import open_runtime

    route = getattr(search_api, "search_sync", search_api.search)  # the route's work without the thread pool trip

    info = json.loads((home / "bench.json").read_text())
    settings = Settings(home=home, object_store="local", control_url=None, master_key=None, master_key_file=None)
    rt = open_runtime(settings)
    ctx = AppContext(rt, secure_cookies=False)
    with rt.session() as s:
        p = user_principal(s.scalar(select(User).where(User.login == info["logins"][role])))

    def call(q: str) -> None:
        s = rt.control()
        try:
            route(info["org"], p, s, ctx, q=q, page=1, per_page=25, sort="newest", mailbox=None)
            s.commit()
        finally:
            s.close()

    qs = ["invoice", "meeting", "from:alice", "report", "budget"]
    for q in qs:  # warm-up
        call(q)
    cpu = []
    for i in range(n):
        t = time.process_time()
        call(qs[i % len(qs)])
        cpu.append((time.process_time() - t) * 1000)
    rt.close()
    print(json.dumps({"mailark": str(Path(mailark.__file__).parent), "role": role, "calls": n,
                      "cpu_mean_ms": round(statistics.mean(cpu), 2), "load_average": os.getloadavg()[0]}))


def server_cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_cpu(home: Path, before: str | None, site: Path | None, requests: int, rounds: int) -> None:
    import httpx

    from bench.search_api import ROLES, start_web

    info = json.loads((home / "bench.json").read_text())
    servers = {"this": start_web(home)}
    if site is not None:
        servers[before or "before"] = start_web(home, site)
    clients = {name: {role: httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tok}"}, timeout=30)
                      for role, tok in info["tokens"].items()} for name, (_, url) in servers.items()}
    path = f"/api/orgs/{info['org']}/search"
    cpu: dict[str, dict[str, list[float]]] = {name: {role: [] for role in ROLES} for name in servers}
    wall: dict[str, dict[str, list[float]]] = {name: {role: [] for role in ROLES} for name in servers}
    loads = [os.getloadavg()[0]]
    try:
        for name in servers:  # warm-up: imports, connections, the index
            for role in ROLES:
                for _ in range(10):
                    assert clients[name][role].get(path, params={"q": CHEAP}).status_code == 200
        for r in range(rounds):
            names = list(servers) if r % 2 == 0 else list(servers)[::-1]
            for role in ROLES:
                for name in names:
                    pid, c = servers[name][0].pid, clients[name][role]
                    c0, t0 = server_cpu_s(pid), time.perf_counter()
                    for _ in range(requests):
                        resp = c.get(path, params={"q": CHEAP})
                        assert resp.status_code == 200, resp.text
                    wall[name][role].append((time.perf_counter() - t0) * 1000 / requests)
                    cpu[name][role].append((server_cpu_s(pid) - c0) * 1000 / requests)
            loads.append(os.getloadavg()[0])
    finally:
        for cs in clients.values():
            for c in cs.values():
                c.close()
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
    out = {"requests_per_block": requests, "rounds": rounds, "load_average": [round(x, 1) for x in loads],
           "server_cpu_ms_per_request": {n: {r: [round(x, 2) for x in v] for r, v in by.items()} for n, by in cpu.items()},
           "wall_ms_per_request": {n: {r: round(statistics.median(v), 2) for r, v in by.items()} for n, by in wall.items()}}
    if len(servers) == 2:
        a, b = list(servers)
        out["cpu_ratio_before_over_this"] = {r: round(statistics.median(cpu[b][r]) / statistics.median(cpu[a][r]), 2)
                                             for r in ROLES}
    print(json.dumps(out, indent=2))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] not in ("route", "http", "-h", "--help"):
        sys.argv.insert(1, "route")  # the old form: route_cpu HOME ROLE N
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("route")
    r.add_argument("home", type=Path)
    r.add_argument("role")
    r.add_argument("n", type=int)
    h = sub.add_parser("http")
    h.add_argument("home", type=Path)
    h.add_argument("--before", default=None, help="the older revision's name (for the table)")
    h.add_argument("--site", type=Path, default=None, help="where it is installed (bench/search_api.py --before)")
    h.add_argument("--requests", type=int, default=100, help="requests per block")
    h.add_argument("--rounds", type=int, default=4)
    a = ap.parse_args()
    if a.mode == "route":
        route_cpu(a.home, a.role, a.n)
    else:
        http_cpu(a.home, a.before, a.site, a.requests, a.rounds)


if __name__ == "__main__":
    main()
