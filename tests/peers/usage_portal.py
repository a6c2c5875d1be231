"""A real business portal for the usage-report tests: HTTPS (a throwaway CA) on 127.0.0.1 in a thread.

It behaves as a portal should with idempotency keys: the first request with a key is accepted
(201), a repeat answers 200 `{"duplicate": true}` and changes nothing. `script` makes it misbehave
for the next requests: "500" answers an error without accepting, "timeout" accepts and then
answers too late for the client (the lost-answer case), "ok" behaves.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(dir: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "usage portal test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = dir / "portal.pem", dir / "portal.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@dataclass
class Portal:
    url: str
    ca_file: Path
    late_seconds: float
    script: list[str] = field(default_factory=list)  # what to do with the next requests; then "ok"
    accepted: dict[str, dict] = field(default_factory=dict)  # type: ignore[type-arg]  # key -> body
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (key, outcome, auth header)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accept_count(self, key: str) -> int:
        return sum(1 for k, outcome, _ in self.requests if k == key and outcome == "accepted")


@contextmanager
def run_portal(dir: Path, late_seconds: float = 1.0) -> Iterator[Portal]:
    cert_file, key_file = self_signed(dir)
    portal: Portal

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            key = self.headers.get("Idempotency-Key", "")
            auth = self.headers.get("Authorization", "")
            with portal.lock:
                action = portal.script.pop(0) if portal.script else "ok"
                if action == "500":
                    portal.requests.append((key, "failed", auth))
                    status, answer = 500, {"error": "portal is down"}
                else:
                    doc = json.loads(body)
                    if doc.get("idempotency_key") != key:
                        status, answer = 400, {"error": "idempotency key of header and body differ"}
                        portal.requests.append((key, "rejected", auth))
                    elif key in portal.accepted:
                        status, answer = 200, {"duplicate": True}
                        portal.requests.append((key, "duplicate", auth))
                    else:
                        portal.accepted[key] = doc
                        status, answer = 201, {"accepted": True}
                        portal.requests.append((key, "accepted", auth))
            if action == "timeout":
                time.sleep(portal.late_seconds)  # accepted, but the answer comes too late
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up waiting

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    portal = Portal(f"https://127.0.0.1:{server.server_address[1]}/api/usage", cert_file, late_seconds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield portal
    finally:
        server.shutdown()
        server.server_close()
