"""A real OpenID Connect provider for tests: panva's certified `oidc-provider` (npm 9.x) under node.

The package is installed once with npm into a cache directory (`MAILARK_OIDC_PROVIDER_DIR`, which
`make test` fills; else a directory next to pytest's temp dirs) and started per test module with
`oidc_provider.mjs` and a JSON config: the issuer on a free loopback port, our client (PKCE
required), and accounts with their claims (email, oid, tid, ...). Its development interactions
let any login name sign in as the account of that name, with any password: `sign_in_through`
fills that form as a browser would. None when node or npm is missing; fixtures skip then.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from tests.peers import free_port

PACKAGE = "oidc-provider@9"
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*method="post"', re.IGNORECASE)


def install(cache: Path) -> Path | None:
    """The directory whose node_modules holds oidc-provider (installed now if needed), or None without node/npm."""
    if not shutil.which("node") or not shutil.which("npm"):
        return None
    where = Path(os.environ.get("MAILARK_OIDC_PROVIDER_DIR") or cache)
    if not (where / "node_modules" / "oidc-provider" / "package.json").exists():
        where.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(where), PACKAGE],
                       check=True, capture_output=True, timeout=600)
    return where


@dataclass
class OidcProvider:
    issuer: str
    client_id: str
    client_secret: str
    accounts: dict[str, dict[str, Any]]
    proc: subprocess.Popen[bytes]
    log: Path
    requests: list[str] = field(default_factory=list)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start(package_dir: Path, work: Path, *, redirect_uris: list[str], accounts: dict[str, dict[str, Any]],
          extra_claims: tuple[str, ...] = ("oid", "tid"), client_id: str = "mailark-app",
          client_secret: str = "client-secret-of-mailark-0123456789") -> OidcProvider:
    """Start the provider on a free port; the script runs from `package_dir` so that node finds the package."""
    port = free_port()
    issuer = f"http://localhost:{port}"  # another site than the web app on 127.0.0.1, as a real provider is
    work.mkdir(parents=True, exist_ok=True)
    config = work / "oidc-provider.json"
    config.write_text(json.dumps({
        "issuer": issuer, "port": port, "extra_claims": list(extra_claims), "accounts": accounts,
        "clients": [{"client_id": client_id, "client_secret": client_secret, "redirect_uris": redirect_uris,
                     "grant_types": ["authorization_code"], "response_types": ["code"]}],
    }))
    script = package_dir / SCRIPT.name
    shutil.copyfile(SCRIPT, script)
    log = work / "oidc-provider.log"
    proc = subprocess.Popen(["node", str(script), str(config)], cwd=package_dir, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(issuer + "/.well-known/openid-configuration", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"oidc-provider did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    return OidcProvider(issuer, client_id, client_secret, accounts, proc, log)


def sign_in_through(c: httpx.Client, start: str, account: str, **params: str) -> httpx.Response:
    """Start the sign-in at `start` (a path of the web app), sign in at the provider as `account` like a
    browser (following every redirect, filling the provider's login form), and return the last answer:
    the web app's page after its callback."""
    r = c.get(start, params=params, follow_redirects=True)
    for _ in range(5):
        m = FORM.search(r.text) if 'name="login"' in r.text else None
        if m is None:
            return r
        r = c.post(urljoin(str(r.url), m.group(1)), data={"prompt": "login", "login": account, "password": "any"},
                   follow_redirects=True)
    raise AssertionError("the provider kept asking to sign in")
