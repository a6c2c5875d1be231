"""Shared fixtures: a fresh mailark home per test, the corpus, a runtime and an organization."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailark.config.settings import Settings, reset_settings_cache

REPO = Path(__file__).resolve().parents[1]
# The real peers (Dovecot, OpenLDAP, the Graph test server) listen on loopback, where sources may not
# connect by default (issue 13, server-side request forgery): the tests allow it, for every process.
PEERS_NETWORK = ("MAILARK_SOURCES__ALLOW_NETWORKS", '["127.0.0.0/8", "::1/128"]')
os.environ.setdefault(*PEERS_NETWORK)
# The large corpus of real mail (26 MB, not in the repository): MAILARK_TEST_CORPUS, else ../shared/corpus.
CORPUS_SET = os.environ.get("MAILARK_TEST_CORPUS")
CORPUS = Path(CORPUS_SET) if CORPUS_SET else REPO.parent / "shared" / "corpus"
SAMPLES = REPO / "samples" / "mail"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The large corpus; a clone without it skips the tests that need it (and says how to run them)."""
    if CORPUS.is_dir():
        return CORPUS
    if CORPUS_SET:  # asked for by name: a typo must not turn into silently skipped tests
        pytest.fail(f"MAILARK_TEST_CORPUS={CORPUS_SET} is not a directory: point it at the test corpus or unset it")
    pytest.skip(f"needs the large test corpus (not in the repository; not found at {CORPUS}): "
                f"set MAILARK_TEST_CORPUS to run these tests")


@pytest.fixture(scope="session")
def samples() -> Path:
    """The sample mail in the repository (samples/mail): always there, for tests that need only a little mail."""
    return SAMPLES


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    for k in list(os.environ):
        if k.startswith("MAILARK_") and k not in ("MAILARK_TEST_CORPUS", PEERS_NETWORK[0]):
            monkeypatch.delenv(k)
    monkeypatch.setenv("MAILARK_HOME", str(tmp_path / "home"))
    # No Prefect server in unit tests: the CLI must run the plain code.
    monkeypatch.setenv("MAILARK_PREFECT_API_URL", "http://127.0.0.1:9/api")
    reset_settings_cache()
    yield Settings()
    reset_settings_cache()


@pytest.fixture
def rt(home: Settings):  # type: ignore[no-untyped-def]
    from mailark.runtime import open_runtime

    runtime = open_runtime(home)
    yield runtime
    runtime.close()


@pytest.fixture
def org(rt):  # type: ignore[no-untyped-def]
    from mailark.control.orgs import create_org

    with rt.session() as s:
        o, _ = create_org(s, "acme", rt.master_key)
    return o


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """host:port of a real S3 protocol server (moto standalone) on 127.0.0.1, plain HTTP."""
    from tests.peers.moto_server import start_moto_server

    endpoint, stop = start_moto_server()
    try:
        yield endpoint
    finally:
        stop()


@pytest.fixture
def s3_home(home: Settings, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A mailark home whose object store (messages and the catalogue's Parquet files) is S3."""
    import uuid

    monkeypatch.setenv("MAILARK_OBJECT_STORE", "s3")
    monkeypatch.setenv("MAILARK_S3__ENDPOINT", moto_endpoint)
    monkeypatch.setenv("MAILARK_S3__ACCESS_KEY", "testing")
    monkeypatch.setenv("MAILARK_S3__SECRET_KEY", "testing-secret")
    monkeypatch.setenv("MAILARK_S3__BUCKET", f"mailark-{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("MAILARK_S3__SECURE", "false")
    reset_settings_cache()
    return Settings()


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """One Prefect test server for every flow test of the run (each start costs tens of seconds)."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The three-node cluster (tests/cluster) runs last: it starts the heaviest peers (PostgreSQL, a
    Prefect server, four mailark nodes) and kills a node on purpose; the rest of the suite must not
    run in its wake (a shorter suite, too, when it is the last thing to fail)."""
    items.sort(key=lambda item: "/tests/cluster/" in item.path.as_posix())
