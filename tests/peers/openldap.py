"""Start a throw-away OpenLDAP server (Debian's ``slapd``) for the directory-sync tests.

Everything lives under a temporary directory: a slapd.conf, an MDB database, a self-signed CA and
server certificate (for LDAPS and StartTLS), and a small schema of our own that gives the
Active-Directory attributes the sync reads (userPrincipalName, proxyAddresses, userAccountControl,
objectGUID, memberOf; object classes ``user`` and ``group``) plus an alias attribute for plain
inetOrgPerson entries (mailAlternateAddress). The server listens on 127.0.0.1 only: plain LDAP
(StartTLS offered) on one port and LDAPS on another. The tree is loaded with slapadd before the
start; tests change it afterwards over LDAP as the root DN (`modify`, `add`, `delete`).

``scripts/install-test-deps.sh`` installs ``slapd`` and ``ldap-utils``; `find_slapd()` returns
None when slapd is missing, and the fixtures then skip with that reason.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from tests.peers import free_port  # noqa: F401 - also imported from here by tests

HOST = "127.0.0.1"
BASE = "dc=example,dc=test"
ROOT_DN = f"cn=admin,{BASE}"
ROOT_PW = "root-secret-pw"
SYNC_DN = f"cn=mailark-sync,{BASE}"
SYNC_PW = "sync-secret-pw"

SCHEMA = """\
# A small Active-Directory-like schema for tests (private OIDs under 1.3.6.1.4.1.55555).
attributetype ( 1.3.6.1.4.1.55555.1.1 NAME 'userPrincipalName'
    EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.2 NAME 'proxyAddresses'
    EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.55555.1.3 NAME 'userAccountControl'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.4 NAME 'objectGUID'
    EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.5 NAME 'memberOf'
    EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
attributetype ( 1.3.6.1.4.1.55555.1.6 NAME 'sAMAccountName'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.7 NAME 'mailAlternateAddress'
    EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )
objectclass ( 1.3.6.1.4.1.55555.2.1 NAME 'user' SUP inetOrgPerson STRUCTURAL
    MAY ( userPrincipalName $ proxyAddresses $ userAccountControl $ objectGUID $ memberOf $ sAMAccountName ) )
objectclass ( 1.3.6.1.4.1.55555.2.2 NAME 'group' SUP top STRUCTURAL
    MUST cn MAY ( member $ objectGUID $ description $ mail $ sAMAccountName ) )
objectclass ( 1.3.6.1.4.1.55555.2.3 NAME 'mailAliasUser' SUP top AUXILIARY MAY mailAlternateAddress )
objectclass ( 1.3.6.1.4.1.55555.2.4 NAME 'computer' SUP user STRUCTURAL )
"""


def find_slapd() -> Path | None:
    for c in (os.environ.get("MAILARK_TEST_SLAPD"), shutil.which("slapd"), "/usr/sbin/slapd"):
        if c and Path(c).is_file():
            return Path(c)
    return None


def _self_signed(d: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1/localhost signed by it: (ca, cert, key)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailark test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (d / "ca.pem").write_bytes(ca.public_bytes(pem))
    (d / "cert.pem").write_bytes(cert.public_bytes(pem))
    (d / "key.pem").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return d / "ca.pem", d / "cert.pem", d / "key.pem"


def guid() -> bytes:
    """16 random bytes: an objectGUID as Active Directory stores it."""
    return uuid.uuid4().bytes_le


@dataclass
class LdapServer:
    port: int
    ldaps_port: int
    dir: Path
    ca_file: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"ldap://{HOST}:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{HOST}:{self.ldaps_port}"

    def _conn(self):  # type: ignore[no-untyped-def]
        import ldap3

        return ldap3.Connection(ldap3.Server(self.url, get_info=ldap3.NONE), ROOT_DN, ROOT_PW, auto_bind=True,
                                raise_exceptions=True)

    def add(self, dn: str, object_class: list[str], attrs: dict[str, Any]) -> None:
        with self._conn() as c:
            c.add(dn, object_class, attrs)

    def modify(self, dn: str, changes: dict[str, Any]) -> None:
        """`changes`: attribute -> new values (replace), or None to delete the attribute."""
        import ldap3

        mods = {k: [(ldap3.MODIFY_DELETE, [])] if v is None else [(ldap3.MODIFY_REPLACE, v if isinstance(v, list) else [v])]
                for k, v in changes.items()}
        with self._conn() as c:
            c.modify(dn, mods)

    def rename(self, dn: str, new_rdn: str) -> None:
        with self._conn() as c:
            c.modify_dn(dn, new_rdn)

    def delete(self, dn: str) -> None:
        with self._conn() as c:
            c.delete(dn)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def start(self) -> None:
        conf = self.dir / "slapd.conf"
        urls = f"ldap://{HOST}:{self.port}/ ldaps://{HOST}:{self.ldaps_port}/"
        log = (self.dir / "slapd.log").open("ab")
        self.proc = subprocess.Popen([str(find_slapd()), "-f", str(conf), "-h", urls, "-d", "0"],
                                     stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slapd exited: {(self.dir / 'slapd.log').read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not start listening within 20 s")


def _conf(d: Path, ca: Path, cert: Path, key: Path) -> str:
    schema = "/etc/ldap/schema"
    return f"""\
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
include {schema}/nis.schema
include {d}/mailark-test.schema
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
sizelimit 5000
database mdb
maxsize 104857600
suffix "{BASE}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PW}
directory {d}/data
index objectClass eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
"""


SEED = f"""\
dn: {BASE}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,{BASE}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{BASE}
objectClass: organizationalUnit
ou: groups

dn: {SYNC_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: mailark-sync
userPassword: {SYNC_PW}
"""


def start_openldap(root: Path | None = None) -> LdapServer:
    slapd = find_slapd()
    if slapd is None:
        raise FileNotFoundError("slapd is not installed (scripts/install-test-deps.sh installs it)")
    d = Path(root or tempfile.mkdtemp(prefix="mailark-slapd-"))
    (d / "data").mkdir(parents=True, exist_ok=True)
    ca, cert, key = _self_signed(d)
    (d / "mailark-test.schema").write_text(SCHEMA)
    (d / "slapd.conf").write_text(_conf(d, ca, cert, key))
    (d / "seed.ldif").write_text(SEED)
    slapadd = slapd.parent / "slapadd"
    p = subprocess.run([str(slapadd if slapadd.exists() else "slapadd"), "-f", str(d / "slapd.conf"), "-l",
                        str(d / "seed.ldif")], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"slapadd failed: {p.stderr[-2000:]}")
    server = LdapServer(free_port(), free_port(), d, ca)
    server.start()
    return server
