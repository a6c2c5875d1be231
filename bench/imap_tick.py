"""One `imap-sync` tick over many idle IMAP sources: the organizations looked at one after another
against `sources.parallel` at once (issue 17: at 10,000 organizations an idle look per source must
fit a 5-minute tick).

    python -m bench.imap_tick --orgs 40 --parallel 1 4 8 --rounds 3 --rtt 40

A throw-away Dovecot (tests/peers/dovecot.py) gets one account per organization with one message;
a fresh home gets `--orgs` organizations with one IMAP profile each (IMAPS, the peer's own CA). A
first tick archives the messages; then each measured tick marks every profile due and runs the real
`imap-sync` flow under a Prefect test server, so it includes the flow run, the control-plane query
and a runtime per thread. Settings differ only in MAILARK_SOURCES__PARALLEL; rounds alternate the
settings so a shared machine's drift hits each alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path


class LatencyProxy:
    """A TCP relay that holds every chunk for `delay` seconds each way (`--rtt` = 2 x delay): the round
    trips of a customer's IMAP server across the internet, which a local Dovecot does not have."""

    def __init__(self, target: tuple[str, int], delay: float) -> None:
        self.target, self.delay = target, delay
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.port = 0

        async def serve() -> None:
            srv = await asyncio.start_server(self._client, "127.0.0.1", 0)
            self.port = srv.sockets[0].getsockname()[1]
            ready.set()
            async with srv:
                await srv.serve_forever()

        threading.Thread(target=lambda: self.loop.run_until_complete(serve()), daemon=True).start()
        ready.wait(10)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection(*self.target)

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            q: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

            async def late() -> None:
                while True:
                    at, data = await q.get()
                    await asyncio.sleep(max(0.0, at - self.loop.time()))
                    if not data:
                        w.close()
                        return
                    w.write(data)
                    await w.drain()

            sender = asyncio.create_task(late())
            while True:
                data = await r.read(65536)
                q.put_nowait((self.loop.time() + self.delay, data))
                if not data:
                    break
            await sender

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer), return_exceptions=True)


def _due_now(rt) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from mailark.control.models import SourceProfile

    with rt.session(write=True) as s:
        s.execute(update(SourceProfile).values(next_run_at=None))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orgs", type=int, default=40)
    ap.add_argument("--parallel", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rtt", type=float, default=0.0, help="round-trip time to add, in ms (a relay in front of Dovecot)")
    args = ap.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    from mailark.config.settings import Settings, reset_settings_cache
    from mailark.control.orgs import create_org
    from mailark.control.principals import Principal
    from mailark.control.sources import create_source
    from mailark.runtime import open_runtime
    from tests.peers.dovecot import remove, start_dovecot

    work = Path(tempfile.mkdtemp(prefix="imap-tick-"))
    server = start_dovecot()
    port = LatencyProxy((server.host, server.imaps_port), args.rtt / 2000).port if args.rtt else server.imaps_port
    os.environ.update({"MAILARK_HOME": str(work / "home"), "MAILARK_SOURCES__ALLOW_NETWORKS": '["127.0.0.0/8"]',
                       "MAILARK_MASTER_KEY": "", "MAILARK_OBJECT_STORE": "local",
                       "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    reset_settings_cache()
    figures: dict[int, list[float]] = {p: [] for p in args.parallel}
    try:
        rt = open_runtime(Settings())
        op = Principal.deployment_operator()
        for i in range(args.orgs):
            org, user = f"o{i:05d}", f"u{i}@o{i:05d}"
            server.add_user(user, f"pw-{user}")
            c = server.client(user)
            c.append("INBOX", f"From: a@{org}\r\nTo: {user}\r\nSubject: hello {i}\r\n\r\nbody {i}\r\n".encode())
            c.logout()
            with rt.session(write=True) as s:
                create_org(s, org, rt.master_key)
                create_source(s, op, org, "imap", "mail", {
                    "host": server.host, "port": port, "security": "ssl", "ca_file": str(server.cert),
                    "username": user, "mailbox": user}, {"password": f"pw-{user}"}, rt.master_key, interval_seconds=300)
        with prefect_test_harness(server_startup_timeout=120):
            from mailark.flows.imap_sync import imap_sync

            first = imap_sync()
            assert all(v == "ok" for v in first.values()) and len(first) == args.orgs, first
            for _ in range(args.rounds):
                for p in args.parallel:
                    os.environ["MAILARK_SOURCES__PARALLEL"] = str(p)
                    reset_settings_cache()
                    _due_now(rt)
                    t = time.perf_counter()
                    out = imap_sync()
                    figures[p].append(time.perf_counter() - t)
                    assert len(out) == args.orgs and all(v == "ok" for v in out.values()), out
        rt.close()
    finally:
        remove(server)
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(figures[args.parallel[0]])
    print(json.dumps({"orgs": args.orgs, "rtt_ms": args.rtt, "load_average": os.getloadavg()[0], "ticks": {
        str(p): {"median_s": round(statistics.median(v), 2), "per_source_ms": round(1000 * statistics.median(v) / args.orgs, 1),
                 "speedup": round(base / statistics.median(v), 2), "rounds": [round(x, 2) for x in v]}
        for p, v in figures.items()}}, indent=2))


if __name__ == "__main__":
    main()
