"""Three nodes on one machine (issue 17): each its own MAILARK_HOME and processes, sharing only what a
real cluster shares: PostgreSQL (control plane, DuckLake catalog, Prefect's database), the S3 store
(moto server), one Prefect server, and the master key file each node is given."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.peers import free_port
from tests.peers.postgres import PostgresServer, find_bindir, start_postgres
from tests.peers.prefect_server import PrefectServer, start_prefect_server

MAILARK = str(Path(sys.executable).parent / "mailark")


@dataclass
class Node:
    """One machine of the deployment: its home, its environment, its `mailark up` process."""

    name: str
    env: dict[str, str]
    roles: tuple[str, ...]
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def home(self) -> Path:
        return Path(self.env["MAILARK_HOME"])

    def start(self, timeout: float = 180.0) -> None:
        args = [MAILARK, "up"] + [a for r in self.roles for a in ("--role", r)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "mailark is up" in self.log.read_text():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.3)
        raise RuntimeError(f"node {self.name} did not come up:\n{self.log.read_text()[-3000:]}\n"
                           f"{self.up_log()[-3000:]}")

    def up_log(self) -> str:
        p = self.home / "logs" / "up.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def mailark(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """A command run on this node (its home, its environment)."""
        return subprocess.run([MAILARK, *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([MAILARK, *args], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def stop(self) -> None:
        """Ctrl-C, as an operator stops `mailark up`; killed when it does not stop in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class Cluster:
    pg: PostgresServer
    prefect: PrefectServer
    shared: dict[str, str]
    nodes: dict[str, Node]
    base: Path

    def node_env(self, name: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILARK_", "PREFECT_"))}
        keep = ("MAILARK_TEST_CORPUS", "MAILARK_SOURCES__ALLOW_NETWORKS")
        env.update({k: os.environ[k] for k in keep if k in os.environ})
        env.update(self.shared, MAILARK_HOME=str(self.base / name), **extra)
        return env


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if find_bindir() is None:
        pytest.skip("PostgreSQL is not installed (no initdb/postgres under /usr/lib/postgresql/*/bin): "
                    "run scripts/install-test-deps.sh as root, or apt-get install postgresql")
    from tests.peers.moto_server import start_moto_server

    base = tmp_path_factory.mktemp("cluster")
    stops = []
    pg = start_postgres()
    stops.append(pg.stop)
    try:
        for db in ("control", "lake", "prefect"):
            pg.create_database(db)
        endpoint, stop_moto = start_moto_server()
        stops.append(stop_moto)
        prefect = start_prefect_server(base / "prefect-server",
                                       f"postgresql+asyncpg://{pg.user}@{pg.host}:{pg.port}/prefect")
        stops.append(prefect.stop)
        key_file = base / "master.key"
        key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        key_file.chmod(0o600)
        shared = {
            "MAILARK_CONTROL_URL": pg.url("control"),
            "MAILARK_LAKE_CATALOG": "postgres:" + pg.libpq("lake"),
            "MAILARK_OBJECT_STORE": "s3", "MAILARK_S3__ENDPOINT": endpoint, "MAILARK_S3__ACCESS_KEY": "testing",
            "MAILARK_S3__SECRET_KEY": "testing-secret", "MAILARK_S3__BUCKET": f"mailark-{uuid.uuid4().hex[:12]}",
            "MAILARK_S3__SECURE": "false",
            "MAILARK_MASTER_KEY_FILE": str(key_file),
            "MAILARK_PREFECT_API_URL": prefect.api_url,
            "MAILARK_WEB_SECURE_COOKIES": "false",
            # Small batches, so that a worker can be killed in the middle of an import; a dead worker's
            # flow run is queued again after 60 s without a heartbeat (90 s by default).
            "MAILARK_BATCH_MESSAGES": "20",
            "MAILARK_SEARCH__SHARED": "true", "MAILARK_SEARCH__REFRESH_SECONDS": "0",
            "MAILARK_RUN_LOST_AFTER_SECONDS": "60",
        }
        c = Cluster(pg, prefect, shared, {}, base)
        roles = {"a": ("worker", "smtp"), "b": ("worker",), "c": ("web",), "c2": ("web",)}
        for name, rs in roles.items():
            c.nodes[name] = Node(name, c.node_env(name, MAILARK_WEB_PORT=str(free_port()),
                                                  MAILARK_SMTP_PORT=str(free_port())), rs, base / f"{name}.out")
        # A deploys prefect.yaml first (B's deploy is then a no-op update), the web replicas in between.
        for name in ("a", "c", "c2", "b"):
            c.nodes[name].start()
            stops.append(c.nodes[name].stop)
        yield c
    finally:
        for stop in reversed(stops):
            try:
                stop()
            except Exception as e:  # noqa: BLE001 - every peer must get its chance to stop
                print(f"stopping a peer failed: {e}")


ORGS = ("north", "south", "both", "east")
PASSWORD = "cluster-reader-password-1"


@dataclass
class World:
    """The organizations of the cluster test, each with a reader owning mailbox reader@ORG, and API
    tokens made through node C."""

    cluster: Cluster
    rt: object  # the test's own runtime (a fifth "node" that only administers)
    tokens: dict[str, str]

    def web(self, node: str = "c") -> str:
        return f"http://127.0.0.1:{self.cluster.nodes[node].env['MAILARK_WEB_PORT']}"


@pytest.fixture(scope="package")
def world(cluster: Cluster) -> Iterator[World]:
    import httpx

    from mailark.config.settings import Settings, reset_settings_cache
    from mailark.control.identity import create_user
    from mailark.control.orgs import create_org
    from mailark.control.principals import Principal
    from mailark.runtime import open_runtime

    mp = pytest.MonkeyPatch()
    for k in list(os.environ):
        if k.startswith(("MAILARK_", "PREFECT_")):
            mp.delenv(k)
    for k, v in cluster.node_env("admin").items():
        if k.startswith("MAILARK_"):
            mp.setenv(k, v)
    reset_settings_cache()
    rt = open_runtime(Settings())
    try:
        with rt.session() as s:
            for name in ORGS:
                create_org(s, name, rt.master_key)
        with rt.session() as s:
            for name in ORGS:
                create_user(s, Principal.deployment_operator(), name, f"reader@{name}", password=PASSWORD,
                            with_mailbox=True)
        tokens = {}
        web = f"http://127.0.0.1:{cluster.nodes['c'].env['MAILARK_WEB_PORT']}"
        for name in ORGS:
            with httpx.Client(base_url=web, headers={"X-Requested-With": "mailark"}, timeout=60) as c:
                r = c.post("/api/auth/login", json={"login": f"reader@{name}", "password": PASSWORD})
                assert r.status_code == 200, r.text
                r = c.post("/api/auth/tokens", json={"name": "cluster"})
                assert r.status_code == 201, r.text
                tokens[name] = r.json()["token"]
        yield World(cluster, rt, tokens)
    finally:
        rt.close()  # type: ignore[attr-defined]
        mp.undo()
        reset_settings_cache()  # the tests after these must not get the cluster's cached settings
        reset_settings_cache()
