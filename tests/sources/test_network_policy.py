"""Issue 13: sources never connect to this machine or a metadata service unless the operator allows it."""

from __future__ import annotations

import pytest

from mailark.config.settings import reset_settings_cache
from mailark.sources.errors import SourceError


@pytest.fixture
def strict(home, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("MAILARK_SOURCES__ALLOW_NETWORKS", raising=False)
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "169.254.169.254", "::1", "0.0.0.0"])
def test_loopback_link_local_and_reserved_are_refused_before_connecting(strict, host: str) -> None:  # type: ignore[no-untyped-def]
    from mailark.sources.network_policy import check_destination

    with pytest.raises(SourceError, match="sources may not connect there"):
        check_destination(host, 993, "the IMAP server")


def test_private_networks_stay_allowed(strict) -> None:  # type: ignore[no-untyped-def]
    from mailark.sources.network_policy import check_destination

    check_destination("10.1.2.3", 993, "the IMAP server")
    check_destination("192.168.7.9", 636, "the directory server")


def test_every_source_kind_checks_before_any_connection(strict) -> None:  # type: ignore[no-untyped-def]
    from mailark.sources.directory.ldap import connect as ldap_connect
    from mailark.sources.graph.client import GraphClient
    from mailark.sources.imap.client import connect as imap_connect
    from mailark.sources.imap.config import ImapConfig, ImapSecret

    cfg = ImapConfig.model_validate({"host": "127.0.0.1", "username": "ann", "security": "plain", "port": 1,
                                     "mailbox": "ann@acme"})
    with pytest.raises(SourceError, match="loopback"):
        imap_connect(cfg, ImapSecret(password="x" * 12))
    with pytest.raises(SourceError, match="link-local"):
        ldap_connect({"url": "ldap://169.254.169.254", "security": "none"}, "cn=x", "pw")
    from mailark.config.settings import get_settings

    with pytest.raises(SourceError, match="loopback"):
        GraphClient({"tenant_id": "t", "client_id": "c", "authority_url": "https://127.0.0.1:8443",
                     "graph_url": "https://127.0.0.1:8443"},
                    {"client_secret": "s"}, get_settings().graph)


def test_the_operator_can_allow_a_network(home, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.sources.network_policy import check_destination

    monkeypatch.setenv("MAILARK_SOURCES__ALLOW_NETWORKS", '["127.0.0.0/8"]')
    reset_settings_cache()
    check_destination("127.0.0.1", 993, "the IMAP server")
    reset_settings_cache()
