"""`mailark web --tls-cert --tls-key` serves HTTPS (a self-signed certificate made here, verified by the
client); a wrong pair is refused in words before anything listens; `mailark up` passes TLS to its web app."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.peers import free_port

MAILARK = str(Path(sys.executable).parent / "mailark")


def self_signed(directory: Path, name: str = "localhost") -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, and its key (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_pem, key_pem = directory / "cert.pem", directory / "key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert_pem, key_pem


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILARK_", "PREFECT_"))}
    env.update(MAILARK_HOME=str(tmp_path / "home"), MAILARK_PREFECT_API_URL="http://127.0.0.1:9/api", **extra)
    return env


def _serve(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    with log.open("wb") as out:
        return subprocess.Popen([MAILARK, "web", *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_https(port: int, verify: ssl.SSLContext, proc: subprocess.Popen, log: Path) -> httpx.Response:  # type: ignore[type-arg]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mailark web exited ({proc.returncode}):\n{log.read_text()}")
        try:
            return httpx.get(f"https://127.0.0.1:{port}/openapi.json", verify=verify, timeout=30)
        except httpx.ConnectError:
            time.sleep(0.2)
    pytest.fail(f"no HTTPS answer within 60 s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("configured", ["options", "settings"])
def test_web_serves_https_with_the_given_certificate(tmp_path: Path, configured: str) -> None:
    cert, key = self_signed(tmp_path / "tls")
    port = free_port()
    if configured == "options":
        env, args = _env(tmp_path), ["--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)]
    else:
        env, args = _env(tmp_path, MAILARK_WEB__TLS_CERT=str(cert), MAILARK_WEB__TLS_KEY=str(key)), ["--port", str(port)]
    proc = _serve(args, env, tmp_path / "web.out")
    try:
        trusting = ssl.create_default_context(cafile=str(cert))
        r = _wait_https(port, trusting, proc, tmp_path / "web.out")
        assert r.status_code == 200 and r.json()["info"]["title"] == "mailark"
        page = httpx.get(f"https://127.0.0.1:{port}/login", verify=trusting, timeout=30)
        assert page.status_code == 200 and 'name="password"' in page.text
        # A client that does not trust the certificate refuses it; plain HTTP gets no answer.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://127.0.0.1:{port}/openapi.json", timeout=2)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
    finally:
        _stop(proc)


def test_a_key_that_does_not_belong_to_the_certificate_is_refused_in_words(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path / "a")
    _, other_key = self_signed(tmp_path / "b")
    r = subprocess.run([MAILARK, "web", "--port", str(free_port()), "--tls-cert", str(cert), "--tls-key",
                        str(other_key)], env=_env(tmp_path), capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 1 and "cannot be used together" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([MAILARK, "web", "--tls-cert", str(cert)], env=_env(tmp_path), capture_output=True, text=True,
                       timeout=60, check=False)
    assert r.returncode == 1 and "needs both a certificate and its private key" in r.stderr


def test_up_starts_its_web_app_with_tls_and_checks_it_over_https(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from mailark.config.settings import Settings, WebSettings
    from mailark.supervisor import plan

    cert, key = self_signed(tmp_path / "tls")
    settings = Settings(home=tmp_path / "home", web=WebSettings(tls_cert=cert, tls_key=key), web_port=8443)
    web = next(s for s in plan(settings, with_prefect_server=False) if s.name == "web")
    assert web.listens == "https://127.0.0.1:8443"
    assert web.argv[-5:] == ["web", "--tls-cert", str(cert), "--tls-key", str(key)]
    plain = next(s for s in plan(Settings(home=tmp_path / "home"), with_prefect_server=False) if s.name == "web")
    assert plain.listens.startswith("http://") and "--tls-cert" not in plain.argv
