"""Fixtures: a local Microsoft Graph (HTTPS, its own CA trusted through settings) with a tenant,
a mailark home whose Graph client trusts it and retries quickly, and a "graph" source profile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailark.config.settings import Settings, reset_settings_cache
from tests.peers.graph_server import GraphServer, Tenant


@pytest.fixture
def tenant() -> Tenant:
    return Tenant(domain="contoso.example")


@pytest.fixture
def graph(tenant: Tenant, tmp_path: Path) -> Iterator[GraphServer]:
    server = GraphServer(tenant, tmp_path / "graph-tls").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def graph_settings(home: Settings, graph: GraphServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The home's settings: trust the test server's CA; small pages and batches, short retry waits."""
    monkeypatch.setenv("MAILARK_GRAPH__CA_FILE", str(graph.ca_file))
    monkeypatch.setenv("MAILARK_GRAPH__MAX_RETRY_WAIT", "0.3")
    monkeypatch.setenv("MAILARK_GRAPH__BACKOFF", "0.02")
    monkeypatch.setenv("MAILARK_GRAPH__MAX_ATTEMPTS", "4")
    monkeypatch.setenv("MAILARK_GRAPH__PAGE_SIZE", "4")
    monkeypatch.setenv("MAILARK_BATCH_MESSAGES", "4")  # a batch closes at 4 messages (or a mailbox's end)
    monkeypatch.setenv("MAILARK_GRAPH__TIMEOUT", "10")
    reset_settings_cache()
    return Settings()


@pytest.fixture
def rt(graph_settings: Settings):  # type: ignore[no-untyped-def]
    from mailark.runtime import open_runtime

    runtime = open_runtime(graph_settings)
    yield runtime
    runtime.close()


@pytest.fixture
def profile(rt, org, graph: GraphServer, tenant: Tenant) -> str:  # type: ignore[no-untyped-def]
    """A "graph" profile of organization acme pointing at the test server; returns its id."""
    from mailark.control import sources
    from mailark.control.principals import Principal

    with rt.session(write=True) as s:
        v = sources.create_source(s, Principal.deployment_operator(), "acme", "graph", "m365", graph.profile_config(),
                                  {"client_secret": tenant.client_secret}, rt.master_key, interval_seconds=600)
    return v.id
