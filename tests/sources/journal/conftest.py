"""Journal endpoint fixtures: a self-signed certificate, an organization with mailboxes and a journal
address, and the endpoint itself on a free port of 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailark.config.settings import Settings, reset_settings_cache
from tests.control.conftest import cheap_argon2  # noqa: F401 - autouse: organizations' first admins are hashed cheaply

DOMAIN = "journal.localhost"
JOURNAL = f"journal@acme.{DOMAIN}"


@pytest.fixture(scope="session")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost/127.0.0.1 (generated with cryptography)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    d = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    c, k = d / "cert.pem", d / "key.pem"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return c, k


@pytest.fixture
def jhome(home: Settings, cert_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MAILARK_JOURNAL__DOMAIN", DOMAIN)
    monkeypatch.setenv("MAILARK_JOURNAL__TLS_CERT", str(cert_files[0]))
    monkeypatch.setenv("MAILARK_JOURNAL__TLS_KEY", str(cert_files[1]))
    monkeypatch.setenv("MAILARK_JOURNAL__MAX_MESSAGE_BYTES", str(2 * 1024 * 1024))
    monkeypatch.setenv("MAILARK_JOURNAL__QUOTA_CACHE_SECONDS", "0.2")
    monkeypatch.setenv("MAILARK_JOURNAL__ROUTES_CACHE_SECONDS", "0.2")
    reset_settings_cache()
    return Settings()


@pytest.fixture
def jrt(jhome: Settings):  # type: ignore[no-untyped-def]
    from mailark.runtime import open_runtime

    runtime = open_runtime(jhome)
    yield runtime
    runtime.close()


@dataclass
class Acme:
    org: object
    journal: str
    mailboxes: dict[str, str]  # primary address -> mailbox id


ADDRESSES = ["alice@acme.com", "bob@acme.com", "carol@acme.com", "dave@acme.com", "erin@acme.com"]


@pytest.fixture
def acme(jrt) -> Acme:  # type: ignore[no-untyped-def]
    """Organization acme: five user mailboxes (alice also as alice.smith@acme.com), a shared mailbox
    team@acme.com, and a journal address without AUTH."""
    from mailark.control.identity import add_domain
    from mailark.control.mailboxes import add_alias, create_mailbox
    from mailark.control.orgs import create_org
    from mailark.control.principals import Principal
    from mailark.sources.journal.profiles import add_journal

    op = Principal.deployment_operator()
    with jrt.session() as s:
        org, _ = create_org(s, "acme", jrt.master_key, users=10, storage_gb=10)
        add_domain(s, op, org, "acme.com")  # mailboxes and aliases must be in one of the organization's domains
        ids = {a: create_mailbox(s, op, org, a).id for a in ADDRESSES}
        add_alias(s, op, org, "alice@acme.com", "alice.smith@acme.com")
        ids["team@acme.com"] = create_mailbox(s, op, org, "team@acme.com", kind="shared").id
        view, _ = add_journal(s, op, org, jrt.master_key, DOMAIN, allow_networks=["127.0.0.0/8"])
        s.expunge(org)
    return Acme(org, view.config["address"], ids)


@pytest.fixture
def endpoint(jrt, acme) -> Iterator[tuple[str, int]]:  # type: ignore[no-untyped-def]
    from mailark.sources.journal.endpoint import JournalEndpoint

    ep = JournalEndpoint(jrt.settings, host="127.0.0.1", port=0, runtime=jrt)
    host, port = ep.start()
    try:
        yield host, port
    finally:
        ep.stop()


def client_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def archived(rt, org, mailbox: str) -> list[bytes]:  # type: ignore[no-untyped-def]
    """The copies archived in one mailbox (by primary address), rebuilt byte for byte."""
    arch = rt.archive_for(org)
    rows = rt.lake.execute(
        "SELECT m.skeleton_ref, i.delta_ref, i.copy_sha256 FROM lake.mailbox_items i JOIN lake.messages m "
        "ON m.org_id = i.org_id AND m.message_key = i.message_key WHERE i.org_id = ? AND i.mailbox = ? "
        "ORDER BY i.archived_at", [arch.org_id, mailbox]).fetchall()
    reader = arch.reader()
    return [reader.rebuild(sk, de, sha) for sk, de, sha in rows]


def quarantined(rt, org) -> list[tuple[str, str, bytes]]:  # type: ignore[no-untyped-def]
    arch = rt.archive_for(org)
    rows = rt.lake.execute("SELECT mailbox, reason, object_key, copy_sha256 FROM lake.quarantine WHERE org_id = ?",
                           [arch.org_id]).fetchall()
    reader = arch.reader()
    return [(mb, reason, reader.quarantined(key, sha)) for mb, reason, key, sha in rows]
