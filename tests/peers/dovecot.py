"""Start a throw-away Dovecot IMAP server (the Debian ``dovecot-imapd`` package) for tests.

Everything lives in a temporary directory: the configuration, a passwd-file of users (with one
master user for whole-server mode: login ``user*master``), Maildir++ mailboxes, a self-signed
certificate made here, the logs and the runtime directory. OAuth2 (XOAUTH2) logins are checked
by Dovecot's oauth2 passdb against a token-info endpoint served here (``server.tokens``: access
token -> user). It listens on 127.0.0.1 on two free
ports: IMAP (plain, STARTTLS offered) and IMAPS (implicit TLS). No system service is used.

``scripts/install-test-deps.sh`` installs the package; ``find_dovecot()`` returns None when it is
missing, and the fixtures then skip with that reason.
"""

from __future__ import annotations

import grp
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from tests.peers import free_port  # noqa: F401 - also imported from here by tests

HOST = "127.0.0.1"
MASTER_USER = "archiver"
MASTER_PASSWORD = "master-secret"


def find_dovecot() -> Path | None:
    found = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").is_file() else None)
    if not found or not Path("/usr/lib/dovecot/imap").exists():
        return None
    return Path(found)


def make_certificate(directory: Path, common_name: str = "localhost") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost (cert.pem also serves as its own CA file)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={common_name}",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


@dataclass
class DovecotServer:
    root: Path
    imap_port: int
    imaps_port: int
    cert: Path
    users: dict[str, str]
    host: str = HOST
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    binary: Path = Path("/usr/sbin/dovecot")
    tokens: dict[str, str] = field(default_factory=dict)  # OAuth2 access token -> user
    token_server: ThreadingHTTPServer | None = field(default=None, repr=False)

    @property
    def config_file(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def log(self) -> str:
        p = self.root / "dovecot.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def maildir(self, user: str) -> Path:
        return self.root / "mail" / user

    def add_user(self, user: str, password: str) -> None:
        """Add a user to the passwd-file (Dovecot re-reads it on change)."""
        self.users[user] = password
        self._write_passwd()

    def _write_passwd(self) -> None:
        # One file per user (passwd-file path with %u): a user added a moment after another is
        # seen at once (Dovecot re-reads a changed file only when its mtime moves on).
        uid, gid = _mail_ids()
        (self.root / "users").mkdir(exist_ok=True)
        for u, p in self.users.items():
            f = self.root / "users" / u
            line = f"{u}:{{PLAIN}}{p}:{uid}:{gid}::{self.root / 'mail' / u}::\n"
            if not f.exists() or f.read_text() != line:
                tmp = f.with_suffix(".tmp")
                tmp.write_text(line)
                tmp.rename(f)
        (self.root / "masters").write_text(f"{MASTER_USER}:{{PLAIN}}{MASTER_PASSWORD}::::::\n")

    def start(self, timeout: float = 20.0) -> None:
        self.proc = subprocess.Popen(
            [str(self.binary), "-F", "-c", str(self.config_file)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            # A process group of its own: stop() ends the master and every imap process it forked.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
                raise RuntimeError(f"dovecot exited at start ({self.proc.returncode}): {out}\n{self.log}")
            if _greets(self.host, self.imap_port) and _accepts_tcp(self.host, self.imaps_port):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not come up within {timeout} s:\n{self.log}")

    def stop(self) -> None:
        """Stop the server and its client processes, as a crash or shutdown would (the data
        stays; `start()` brings it back on the same ports)."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                continue
            if sig == signal.SIGTERM:
                # The master is gone; imap processes of open connections may linger: end them.
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            break
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        deadline = time.monotonic() + 5
        while _accepts_tcp(self.host, self.imap_port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def client(self, user: str, *, ssl: bool = False):  # type: ignore[no-untyped-def]
        """A logged-in imapclient connection for filling mailboxes in tests."""
        from imapclient import IMAPClient

        c = IMAPClient(self.host, port=self.imaps_port if ssl else self.imap_port, ssl=ssl, timeout=10)
        c.login(user, self.users[user])
        return c


def _token_server(tokens: dict[str, str]) -> ThreadingHTTPServer:
    """The OAuth2 token-info endpoint Dovecot asks: 200 {"email": user} for a known token, else 401."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            token = parse_qs(urlparse(self.path).query).get("access_token", [""])[0]
            user = tokens.get(token)
            body = json.dumps({"email": user, "active": "true"} if user else {"error": "invalid_token"}).encode()
            self.send_response(200 if user else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer((HOST, 0), Handler)
    threading.Thread(target=httpd.serve_forever, name="oauth2-tokeninfo", daemon=True).start()
    return httpd


def _mail_ids() -> tuple[int, int]:
    """The uid/gid that owns the mail: ours, or dovecot's unprivileged mail user when we are root."""
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    try:
        return pwd.getpwnam("dovecot").pw_uid, grp.getgrnam("dovecot").gr_gid
    except KeyError:
        return 65534, 65534


def _accepts_tcp(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _greets(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            return s.recv(100).startswith(b"* OK")
    except OSError:
        return False


CONFIG = """\
# mailark test server: everything under {root}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{users_block}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_master_user_separator = *
auth_cache_size = 0
# Refused logins answer at once (the default waits 2 s against guessing; tests refuse on purpose).
auth_failure_delay = 0
first_valid_uid = {min_uid}
mail_location = maildir:~/Maildir
mail_attribute_dict =
mailbox_list_index = yes
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/masters
  master = yes
  result_success = continue
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users/%u
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf
}}
userdb {{
  driver = passwd-file
  args = {root}/users/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
"""


def start_dovecot(users: dict[str, str] | None = None, attempts: int = 3) -> DovecotServer:
    """A running server in a new temporary directory with `users` (name -> password)."""
    binary = find_dovecot()
    if binary is None:
        raise RuntimeError("dovecot is not installed: apt-get install dovecot-imapd (scripts/install-test-deps.sh)")
    root = Path(tempfile.mkdtemp(prefix="mailark-dovecot-"))
    os.chmod(root, 0o755)
    cert, key = make_certificate(root)
    uid, gid = _mail_ids()
    (root / "mail").mkdir()
    os.chown(root / "mail", uid, gid)
    if os.geteuid() == 0:
        users_block = "default_internal_user = dovecot\ndefault_login_user = dovenull"
    else:
        me = pwd.getpwuid(os.geteuid()).pw_name
        users_block = f"default_internal_user = {me}\ndefault_login_user = {me}"
    tokens: dict[str, str] = {}
    httpd = _token_server(tokens)
    (root / "oauth2.conf").write_text(
        f"tokeninfo_url = http://{HOST}:{httpd.server_address[1]}/tokeninfo?access_token=\n"
        "username_attribute = email\nusername_format = %u\n"
    )
    last: Exception | None = None
    for _ in range(attempts):
        server = DovecotServer(root, free_port(), free_port(), cert, dict(users or {}), binary=binary,
                               tokens=tokens, token_server=httpd)
        server._write_passwd()
        server.config_file.write_text(CONFIG.format(
            root=root, cert=cert, key=key, imap_port=server.imap_port, imaps_port=server.imaps_port,
            users_block=users_block, min_uid=min(uid, 100),
        ))
        try:
            server.start()
            return server
        except RuntimeError as e:  # a port taken in between: try others
            last = e
    httpd.shutdown()
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"dovecot did not start: {last}")


def remove(server: DovecotServer) -> None:
    server.stop()
    if server.token_server is not None:
        server.token_server.shutdown()
        server.token_server.server_close()
    shutil.rmtree(server.root, ignore_errors=True)
