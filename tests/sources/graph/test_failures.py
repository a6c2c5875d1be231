"""What goes wrong: wrong secret, unknown tenant, missing permission, server down, storage full.

Each failed run says why (profile and ledger), archives nothing twice, and the next run catches up.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from mailark.catalog.ingest import storage_used
from mailark.control import sources
from mailark.control.models import Organization
from mailark.control.principals import Principal
from mailark.config.settings import GraphSettings
from mailark.sources.errors import SourceError
from mailark.sources.graph.client import GraphClient
from mailark.sources.graph.probe import probe
from mailark.sources.graph.sync import sync_profile
from tests.peers.graph_server import GraphServer, Tenant
from tests.sources.graph.helpers import corpus_messages, items, ledger


def _mail(tenant: Tenant, corpus: Path, n: int = 6) -> None:
    ann, bob = tenant.add_user("ann"), tenant.add_user("bob")
    msgs = corpus_messages(corpus, n)
    for raw in msgs[: n // 2]:
        tenant.add_message(ann, "inbox", raw)
    for raw in msgs[n // 2:]:
        tenant.add_message(bob, "inbox", raw)


def _profile(rt, graph: GraphServer, name: str, secret: str, **config) -> str:  # type: ignore[no-untyped-def]
    with rt.session(write=True) as s:
        return sources.create_source(s, Principal.deployment_operator(), "acme", "graph", name,
                                     {**graph.profile_config(), **config}, {"client_secret": secret}, rt.master_key).id


def _last(rt, pid: str):  # type: ignore[no-untyped-def]
    with rt.session() as s:
        p = sources.profile_by_id(s, pid)
        return p.last_status, p.last_error


def test_wrong_client_secret_fails_the_run_clearly(rt, org, graph: GraphServer, tenant: Tenant, corpus: Path) -> None:
    _mail(tenant, corpus)
    pid = _profile(rt, graph, "bad", "not-the-secret")
    res = sync_profile(rt, pid)
    assert res.status == "failed"
    assert "refused the client secret" in res.error and "AADSTS7000215" in res.error
    assert "not-the-secret" not in res.error
    assert _last(rt, pid) == ("failed", res.error)
    [row] = ledger(rt)
    assert row["archived"] == 0 and f"failed: {res.error}" in json.loads(row["reasons"])
    assert items(rt) == []
    # Fixing the secret: the next run archives everything.
    with rt.session(write=True) as s:
        sources.update_source(s, Principal.deployment_operator(), "acme", "bad", rt.master_key,
                              secret={"client_secret": tenant.client_secret})
    assert sync_profile(rt, pid).counts.archived == 6


def test_unknown_tenant_unknown_app_and_missing_permission(rt, org, graph: GraphServer, tenant: Tenant,
                                                           corpus: Path) -> None:
    _mail(tenant, corpus)
    settings = rt.settings.graph
    cfg = graph.profile_config()
    with pytest.raises(SourceError, match=r"tenant 'nowhere.example' was not found") as e:
        probe({**cfg, "tenant_id": "nowhere.example"}, {"client_secret": tenant.client_secret}, settings)
    assert not e.value.retryable
    with pytest.raises(SourceError, match=r"app 0000.* is not known .*AADSTS700016"):
        probe({**cfg, "client_id": "00000000-0000-0000-0000-000000000000"}, {"client_secret": tenant.client_secret}, settings)
    assert probe(cfg, {"client_secret": tenant.client_secret}, settings).startswith(
        f"connected to Microsoft 365 tenant {tenant.tenant_id} as app {tenant.client_id}: 2 users visible, mail of ann@")
    tenant.roles.discard("Mail.Read")
    with pytest.raises(SourceError, match=r"denied .*ErrorAccessDenied.*application permission Mail.Read"):
        probe(cfg, {"client_secret": tenant.client_secret}, settings)
    pid = _profile(rt, graph, "m365", tenant.client_secret)
    res = sync_profile(rt, pid)
    assert res.status == "failed" and "Mail.Read" in res.error
    tenant.roles.discard("User.Read.All")
    with pytest.raises(SourceError, match=r"denied /v1.0/users .*Authorization_RequestDenied.*User.Read.All"):
        probe(cfg, {"client_secret": tenant.client_secret}, settings)


def test_mailbox_kept_out_by_an_access_policy_is_reported_and_the_others_go_on(rt, org, graph: GraphServer,
                                                                              tenant: Tenant, corpus: Path) -> None:
    _mail(tenant, corpus)
    tenant.blocked.add(tenant.user("bob").id)
    pid = _profile(rt, graph, "m365", tenant.client_secret)
    res = sync_profile(rt, pid)
    assert res.status == "partial" and res.counts.archived == 3
    assert res.refused == [res.refused[0]] and res.refused[0].startswith("bob@contoso.example: Microsoft Graph denied")
    assert "AppOnly AccessPolicy" in res.error
    tenant.blocked.clear()
    res = sync_profile(rt, pid)
    assert res.status == "ok" and res.counts.archived == 3 and len(items(rt)) == 6


def test_server_down_fails_the_run_and_the_next_run_catches_up(rt, org, graph: GraphServer, tenant: Tenant,
                                                               corpus: Path) -> None:
    _mail(tenant, corpus)
    pid = _profile(rt, graph, "m365", tenant.client_secret)
    graph.stop()
    res = sync_profile(rt, pid)
    assert res.status == "failed" and "cannot reach the Microsoft identity platform" in res.error
    assert res.error.endswith("the next run retries")
    assert _last(rt, pid)[0] == "failed"
    graph.start()
    res = sync_profile(rt, pid)
    assert res.status == "ok" and res.counts.archived == 6
    assert len(items(rt)) == 6


def test_outage_in_the_middle_keeps_what_was_done_and_the_next_run_catches_up(rt, org, graph: GraphServer,
                                                                              tenant: Tenant, corpus: Path) -> None:
    """Graph answers 503 longer than the client retries while bob's Inbox is read: ann's mail stays
    archived with its cursors, bob's folder cursor does not move, the next run fetches only bob's."""
    _mail(tenant, corpus, 10)
    bob = tenant.user("bob")
    pid = _profile(rt, graph, "m365", tenant.client_secret)
    tenant.throttle(503, retry_after=0, times=rt.settings.graph.max_attempts,
                    match=f"/users/{bob.id}/mailFolders/{bob.well_known['inbox']}/messages/delta")
    res = sync_profile(rt, pid)
    assert res.status == "failed"
    assert "kept answering 503 ServiceUnavailable" in res.error and "the next run retries" in res.error
    assert res.counts.archived == 5  # ann's
    rows = ledger(rt)
    assert rows[-1]["mailbox"] == "bob@contoso.example" and rows[-1]["archived"] == 0
    value_calls = tenant.count(contains="/$value")
    res = sync_profile(rt, pid)
    assert res.status == "ok" and res.counts.archived == 5 and res.counts.duplicates == 0
    assert tenant.count(contains="/$value") - value_calls == 5  # only bob's were fetched
    assert len(items(rt)) == 10


def test_expired_access_token_is_renewed(rt, org, graph: GraphServer, tenant: Tenant, corpus: Path) -> None:
    _mail(tenant, corpus)
    client = GraphClient(graph.profile_config(), {"client_secret": tenant.client_secret}, rt.settings.graph)
    with client:
        assert len(list(client.items("/users"))) == 2
        tenant.expire_access_tokens()
        assert len(list(client.items("/users"))) == 2
        assert client.stats.token_renewals == 1 and tenant.tokens_issued == 2


def test_retry_after_is_waited_in_full_below_the_cap(graph: GraphServer, tenant: Tenant, tmp_path: Path) -> None:
    tenant.add_user("ann")
    tenant.throttle(429, retry_after=1, times=1, match="/v1.0/users")
    settings = GraphSettings(ca_file=graph.ca_file, max_retry_wait=30, backoff=0.01)
    with GraphClient(graph.profile_config(), {"client_secret": tenant.client_secret}, settings) as client:
        client.token()
        t0 = time.monotonic()
        users = list(client.items("/users"))
        waited = time.monotonic() - t0
    assert len(users) == 1 and client.stats.waits == [1.0] and waited >= 1.0
    assert tenant.count(contains="/v1.0/users", status=429) == 1 and tenant.count(contains="/v1.0/users", status=200) == 1


def test_storage_full_pauses_and_resumes_without_advancing_past_deferred(rt, org, graph: GraphServer, tenant: Tenant,
                                                                          corpus: Path) -> None:
    ann = tenant.add_user("ann")
    msgs = corpus_messages(corpus, 8)
    for raw in msgs[:4]:
        tenant.add_message(ann, "inbox", raw)
    pid = _profile(rt, graph, "m365", tenant.client_secret)
    assert sync_profile(rt, pid).counts.archived == 4
    key = f"folder:{ann.id}:{ann.well_known['inbox']}"
    with rt.session() as s:
        first = sources.get_cursors(s, pid)[key]
    for raw in msgs[4:]:
        tenant.add_message(ann, "inbox", raw)
    # Room for one more message only.
    used = storage_used(rt.archive_for(org))
    with rt.session(write=True) as s:
        s.execute(update(Organization).where(Organization.id == org.id)
                  .values(storage_quota_bytes=used + len(msgs[4]) + len(msgs[5]) // 2))
    res = sync_profile(rt, pid)
    assert res.status == "paused"
    assert res.counts.archived == 1 and res.counts.deferred == 3
    assert "storage quota full" in res.error and "mailark licence set --org acme" in res.error
    with rt.session() as s:
        p = sources.profile_by_id(s, pid)
        assert p.last_status == "paused" and p.paused_reason == res.error
        inbox = sources.get_cursors(s, pid)[key]
    # The Inbox cursor is still the delta link of the first run: the deferred messages come again.
    assert inbox == first and inbox["complete"]
    with rt.session(write=True) as s:
        s.execute(update(Organization).where(Organization.id == org.id).values(storage_quota_bytes=10 * 2**30))
    res = sync_profile(rt, pid)
    assert res.status == "ok", res.error
    assert res.counts.archived == 3  # the one archived before the quota was hit is not fetched again
    rows = items(rt)
    assert len(rows) == 8 and len({r[3] for r in rows}) == 8
    with rt.session() as s:
        assert sources.profile_by_id(s, pid).paused_reason is None


def test_links_to_another_host_are_not_followed_with_the_token(graph: GraphServer, tenant: Tenant) -> None:
    settings = GraphSettings(ca_file=graph.ca_file)
    with GraphClient(graph.profile_config(), {"client_secret": tenant.client_secret}, settings) as client:
        with pytest.raises(SourceError, match=r"link to another host \(evil.example\)"):
            client.get_json("https://evil.example/v1.0/users?$skiptoken=x")
        assert client.stats.requests == 0


def test_graph_unreachable_after_the_token_is_retried_then_reported(graph: GraphServer, tenant: Tenant) -> None:
    settings = GraphSettings(ca_file=graph.ca_file, backoff=0.02, max_attempts=4)
    with GraphClient(graph.profile_config(), {"client_secret": tenant.client_secret}, settings) as client:
        client.token()
        graph.stop()
        with pytest.raises(SourceError, match=r"cannot reach Microsoft Graph at https://127.0.0.1:\d+/v1.0 "
                                              r"\(ConnectError.*after 4 attempts; the next run retries") as e:
            client.get_json("/users")
        assert e.value.retryable
        assert client.stats.waits == [0.02, 0.04, 0.08]  # exponential backoff between the attempts
