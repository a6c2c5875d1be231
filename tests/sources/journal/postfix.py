"""A real Postfix for tests: its own config and queue directories, listening on 127.0.0.1, relaying
everything to the journal endpoint (relayhost), started and stopped here (no system service).

Postfix drops privileges to its `postfix` user, so its directories live in a world-traversable
temporary directory (pytest's are 0700). Run as root (Postfix's master must start as root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MASTER_CF = """\
{port}    inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.test.localhost
mydomain = test.localhost
myorigin = $myhostname
mydestination =
local_transport = error:local delivery is disabled
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:{relay_port}
maillog_file_prefixes = /var, /dev/stdout, /tmp
maillog_file = {root}/postfix.log
smtputf8_enable = no
biff = no
# Retry quickly: a 452 from the endpoint is retried within seconds, not minutes.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_tls_security_level = {tls_level}
smtp_tls_loglevel = 1
"""

SASL_CF = """\
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = static:{user}:{password}
smtp_sasl_security_options = noanonymous
smtp_sasl_tls_security_options = noanonymous
smtp_sasl_mechanism_filter = plain, login
"""


class PostfixUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Postfix:
    root: Path
    port: int

    @property
    def config(self) -> Path:
        return self.root / "etc"

    def log(self) -> str:
        p = self.root / "postfix.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def queue_empty(self) -> bool:
        out = subprocess.run(["postqueue", "-c", str(self.config), "-j"], capture_output=True, text=True)
        return out.returncode == 0 and not out.stdout.strip()

    def stop(self) -> None:
        subprocess.run(["postfix", "-c", str(self.config), "stop"], capture_output=True, timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


def start_postfix(relay_port: int, *, user: str | None = None, password: str | None = None,
                  tls: bool = True) -> Postfix:
    if os.geteuid() != 0:
        raise PostfixUnavailable("Postfix's master process must start as root")
    if not shutil.which("postfix"):
        raise PostfixUnavailable("postfix is not installed (scripts/install-test-deps.sh installs it)")
    root = Path(tempfile.mkdtemp(prefix="mailark-postfix-", dir="/tmp"))
    os.chmod(root, 0o755)
    (root / "etc").mkdir()
    (root / "spool").mkdir()
    (root / "data").mkdir()
    shutil.chown(root / "data", "postfix", "postfix")
    port = _free_port()
    main = MAIN_CF.format(root=root, relay_port=relay_port, tls_level="encrypt" if tls else "none")
    if user:
        main += SASL_CF.format(user=user, password=password)
    (root / "etc" / "main.cf").write_text(main)
    (root / "etc" / "master.cf").write_text(MASTER_CF.format(port=port))
    pf = Postfix(root, port)
    p = subprocess.run(["postfix", "-c", str(pf.config), "start"], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        log = pf.log()
        pf.stop()
        raise PostfixUnavailable(f"postfix did not start: {p.stdout}{p.stderr}{log}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return pf
        except OSError:
            time.sleep(0.1)
    log = pf.log()
    pf.stop()
    raise PostfixUnavailable(f"postfix did not listen on 127.0.0.1:{port}: {log}")
