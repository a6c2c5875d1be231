"""A local Microsoft Graph and Microsoft identity platform for tests: a real HTTPS server on 127.0.0.1.

There is no Microsoft 365 tenant here, so this server plays one, following Microsoft's documented
responses closely enough that the real client (msal + httpx) runs unchanged against it:

- identity platform: OpenID discovery (`/{tenant}/v2.0/.well-known/openid-configuration`, which
  msal reads first) and the client-credentials token endpoint (`/{tenant}/oauth2/v2.0/token`) with
  the AADSTS error JSON for an unknown tenant (90002), an unknown app (700016) and a wrong client
  secret (7000215); access tokens expire (`expire_access_tokens`) and carry the app roles granted.
- Graph v1.0: `/users` (`$select`, `$top`, `@odata.nextLink` paging, the default property set
  without `proxyAddresses`/`accountEnabled`), `/users/{id}/mailboxSettings` (`userPurpose`
  user | shared | room | equipment; 404 `MailboxNotEnabledForRESTAPI` for a user without a
  mailbox), `/users/{id}/mailFolders` and `.../childFolders` (nested, paged, `childFolderCount`),
  `/users/{id}/mailFolders/{id}/messages/delta` (pages honouring `Prefer: odata.maxpagesize`,
  `@odata.nextLink` with `$skiptoken`, a final `@odata.deltaLink` with `$deltatoken`, `@removed`
  entries; a token older than `expire_delta_tokens()` answers 410 Gone `syncStateNotFound` with a
  `Location` to start over), `/users/{id}/messages/{id}/$value` (the MIME bytes as stored),
  `/groups`, `/groups/{id}/members` and `/transitiveMembers`; writes (application permission
  Mail.ReadWrite, not granted by default): `POST .../mailFolders` and `.../childFolders` (JSON
  `displayName`, 409 `ErrorFolderExists`) and `POST .../mailFolders/{id}/messages` with a base64 MIME
  body as `text/plain` (a draft, 413 beyond 4 MB), kept as decoded so `$value` returns those bytes.
- errors: 401 `InvalidAuthenticationToken`, 403 `Authorization_RequestDenied` (directory) or
  `ErrorAccessDenied` (mail) for a missing application permission, 404 `ErrorItemNotFound`, and
  injected throttling: 429 `TooManyRequests` / 503 `ServiceUnavailable` with `Retry-After`.

The tenant is a plain in-memory object the tests change while the server runs (add users and
messages, move and delete them, expire tokens, throttle). Message ids are immutable (as with
`Prefer: IdType="ImmutableId"`): a move keeps the id. Every request is logged in `requests` so
tests can assert what the client fetched.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.parser
import email.policy
import ipaddress
import itertools
import json
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

HOST = "127.0.0.1"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ALL_ROLES = frozenset({"User.Read.All", "Mail.Read", "MailboxSettings.Read", "GroupMember.Read.All"})
USER_DEFAULT_PROPS = ("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                      "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id")
WELL_KNOWN = {"inbox": "Inbox", "drafts": "Drafts", "sentitems": "Sent Items", "deleteditems": "Deleted Items"}


def _graph_id(prefix: str = "AAMkAG") -> str:
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("=")


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the tenant ---------------------------------------------------------------------------------


@dataclass
class Folder:
    id: str
    display_name: str
    parent_id: str  # the root folder's id for top-level folders
    hidden: bool = False
    # (seq, kind, message id): kind is "add" (arrived or moved in), "update" or "remove" (deleted or moved out)
    log: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass
class Message:
    id: str
    raw: bytes
    folder_id: str
    is_read: bool = False
    received: str = field(default_factory=_now_iso)
    is_draft: bool = False  # created through Graph (POST .../messages), as Exchange does


@dataclass
class User:
    id: str
    upn: str
    display_name: str
    mail: str | None
    proxy_addresses: list[str]
    account_enabled: bool = True
    purpose: str | None = "user"  # userPurpose of its mailbox; None: no mailbox (no Exchange licence)
    user_type: str = "Member"  # "Guest": an invited outsider (mail is their own address elsewhere)
    root_id: str = field(default_factory=_graph_id)
    folders: dict[str, Folder] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    well_known: dict[str, str] = field(default_factory=dict)


@dataclass
class Group:
    id: str
    display_name: str
    mail: str | None
    members: list[str]  # user or group ids


@dataclass
class Throttle:
    status: int
    retry_after: int | None
    times: int
    match: str


@dataclass
class _Round:
    """The items of one delta round, computed at its first request (later pages read from it)."""

    user_id: str
    folder_id: str
    items: list[dict[str, Any]]
    seq: int
    epoch: int
    select: list[str] | None = None


class Tenant:
    """A Microsoft 365 tenant in memory; safe to change from the test thread while the server runs."""

    def __init__(self, tenant_id: str | None = None, domain: str = "contoso.example") -> None:
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.domain = domain
        self.client_id = str(uuid.uuid4())
        self.client_secret = "s3cr3t~" + secrets.token_urlsafe(24)
        self.roles: set[str] = set(ALL_ROLES)  # application permissions with admin consent
        self.token_lifetime = 3599
        self.max_page_size: int | None = None  # Graph may serve fewer rows than $top asks for
        self.delta_expired_status = 410  # Outlook's answer to an unknown delta token (directory resources: 400)
        self.blocked: set[str] = set()  # user ids an application access policy keeps the app out of
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.lock = threading.RLock()
        self.tokens: dict[str, tuple[float, frozenset[str]]] = {}
        self.throttles: list[Throttle] = []
        self.requests: list[tuple[str, str, int]] = []  # (method, path?query, status)
        self.tokens_issued = 0
        self._seq = itertools.count(1)
        self._epoch = 0
        self._rounds: dict[str, _Round] = {}

    # ---- directory ----------------------------------------------------------------------------

    def add_user(self, name: str, *, display_name: str | None = None, aliases: tuple[str, ...] = (),
                 enabled: bool = True, purpose: str | None = "user", mail: str | None = "") -> User:
        """A user `name@domain` with a mailbox (purpose "user"/"shared"/...; None: no mailbox)."""
        with self.lock:
            upn = f"{name}@{self.domain}"
            # mail "" (the default): the UPN when the user has a mailbox, none otherwise
            address = (upn if purpose else None) if mail == "" else mail
            proxies = ([f"SMTP:{address}"] if address else []) + [f"smtp:{a}" for a in aliases]
            u = User(str(uuid.uuid4()), upn, display_name or name.title(), address, proxies, enabled, purpose)
            if purpose:
                for wk, label in WELL_KNOWN.items():
                    f = self._new_folder(u, label, u.root_id)
                    u.well_known[wk] = f.id
            self.users[u.id] = u
            return u

    def add_guest(self, address: str) -> User:
        """An invited external user: a user object with their outside address as mail, no mailbox here."""
        with self.lock:
            upn = address.replace("@", "_") + f"#EXT#@{self.domain}"
            u = User(str(uuid.uuid4()), upn, address.split("@")[0].title(), address, [f"SMTP:{address}"], True, None,
                     user_type="Guest")
            self.users[u.id] = u
            return u

    def add_shared_mailbox(self, name: str, **kw: Any) -> User:
        """A shared mailbox: a user object whose account is disabled and whose mailbox is shared."""
        return self.add_user(name, enabled=False, purpose="shared", **kw)

    def add_group(self, name: str, members: list[str], mail: str | None = None) -> Group:
        with self.lock:
            g = Group(str(uuid.uuid4()), name, mail, list(members))
            self.groups[g.id] = g
            return g

    def user(self, key: str) -> User:
        with self.lock:
            if key in self.users:
                return self.users[key]
            for u in self.users.values():
                if key.lower() in (u.upn.lower(), u.upn.split("@")[0].lower(), (u.mail or "").lower()):
                    return u
        raise KeyError(key)

    # ---- mail ---------------------------------------------------------------------------------

    def _new_folder(self, u: User, name: str, parent_id: str, hidden: bool = False) -> Folder:
        f = Folder(_graph_id("AQMkAD"), name, parent_id, hidden)
        u.folders[f.id] = f
        return f

    def add_folder(self, user: User | str, name: str, parent: str | None = None, hidden: bool = False) -> Folder:
        """A folder under `parent` (a folder id or well-known name), or at the top level."""
        with self.lock:
            u = user if isinstance(user, User) else self.user(user)
            parent_id = self.folder_id(u, parent) if parent else u.root_id
            return self._new_folder(u, name, parent_id, hidden)

    def folder_id(self, u: User, key: str) -> str:
        key_l = key.lower()
        if key_l in u.well_known:
            return u.well_known[key_l]
        if key in u.folders:
            return key
        for f in u.folders.values():
            if f.display_name == key:
                return f.id
        raise KeyError(key)

    def add_message(self, user: User | str, folder: str, raw: bytes, *, is_read: bool = False) -> Message:
        with self.lock:
            u = user if isinstance(user, User) else self.user(user)
            fid = self.folder_id(u, folder)
            m = Message(_graph_id("AAkALg"), raw, fid, is_read)
            u.messages[m.id] = m
            u.folders[fid].log.append((next(self._seq), "add", m.id))
            return m

    def move_message(self, user: User | str, message_id: str, folder: str) -> None:
        with self.lock:
            u = user if isinstance(user, User) else self.user(user)
            m = u.messages[message_id]
            dest = self.folder_id(u, folder)
            u.folders[m.folder_id].log.append((next(self._seq), "remove", m.id))
            m.folder_id = dest
            u.folders[dest].log.append((next(self._seq), "add", m.id))

    def mark_read(self, user: User | str, message_id: str) -> None:
        """A change that is not new mail: delta reports the message again as updated."""
        with self.lock:
            u = user if isinstance(user, User) else self.user(user)
            m = u.messages[message_id]
            m.is_read = True
            u.folders[m.folder_id].log.append((next(self._seq), "update", m.id))

    def delete_message(self, user: User | str, message_id: str) -> None:
        """A hard delete (purged): gone from every folder."""
        with self.lock:
            u = user if isinstance(user, User) else self.user(user)
            m = u.messages.pop(message_id)
            u.folders[m.folder_id].log.append((next(self._seq), "remove", m.id))

    # ---- failure modes ------------------------------------------------------------------------

    def expire_delta_tokens(self) -> None:
        """Every delta and skip token issued so far answers 410 Gone from now on."""
        with self.lock:
            self._epoch += 1
            self._rounds.clear()

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.tokens = {t: (0.0, roles) for t, (_, roles) in self.tokens.items()}

    def throttle(self, status: int = 429, *, retry_after: int | None = 1, times: int = 1, match: str = "/v1.0/") -> None:
        """The next `times` Graph requests whose path contains `match` answer `status` with Retry-After."""
        with self.lock:
            self.throttles.append(Throttle(status, retry_after, times, match))

    def count(self, method: str = "GET", contains: str = "", status: int | None = None) -> int:
        with self.lock:
            return sum(1 for m, p, s in self.requests
                       if m == method and contains in p and (status is None or s == status))

    # ---- delta --------------------------------------------------------------------------------

    def _item(self, u: User, m: Message, select: list[str] | None) -> dict[str, Any]:
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(m.raw)
        full: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.message",
            "@odata.etag": f'W/"{base64.b64encode(m.id.encode()[-9:]).decode()}"',
            "id": m.id,
            "subject": str(headers.get("Subject", "")),
            "internetMessageId": str(headers.get("Message-ID", "")),
            "parentFolderId": m.folder_id,
            "receivedDateTime": m.received,
            "isRead": m.is_read,
            "hasAttachments": False,
        }
        if not select:
            return full
        return {k: v for k, v in full.items() if k.startswith("@") or k == "id" or k in select}

    def _changes(self, u: User, f: Folder, since: int | None, select: list[str] | None) -> list[dict[str, Any]]:
        current = {mid for mid, m in u.messages.items() if m.folder_id == f.id}
        if since is None:
            return [self._item(u, u.messages[mid], select) for mid in sorted(current, key=lambda i: self._added(f, i))]
        changed: list[str] = []
        removed: list[str] = []
        for seq, kind, mid in f.log:
            if seq <= since:
                continue
            if mid in current:
                if mid not in changed:
                    changed.append(mid)
            elif mid not in removed:
                removed.append(mid)
        out = [self._item(u, u.messages[mid], select) for mid in changed]
        out += [{"@odata.type": "#microsoft.graph.message", "id": mid, "@removed": {"reason": "deleted"}} for mid in removed]
        return out

    @staticmethod
    def _added(f: Folder, mid: str) -> int:
        return max((s for s, k, m in f.log if m == mid and k == "add"), default=0)

    def _token(self, payload: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")

    @staticmethod
    def _untoken(token: str) -> dict[str, Any] | None:
        try:
            return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (ValueError, UnicodeDecodeError):
            return None


# ---- TLS ----------------------------------------------------------------------------------------


def make_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost: (ca.pem, cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailark test Graph CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_pem, cert_pem, key_pem = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return ca_pem, cert_pem, key_pem


# ---- HTTP ---------------------------------------------------------------------------------------


class _GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class _Handler(BaseHTTPRequestHandler):
    server_version = "Microsoft-IIS/10.0"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall per call
    graph: GraphServer  # set on the subclass per server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass

    # ---- plumbing

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("request-id", str(uuid.uuid4()))
        self.send_header("client-request-id", self.headers.get("client-request-id") or str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        with self.graph.tenant.lock:
            self.graph.tenant.requests.append((self.command, self.path, status))

    def _json(self, status: int, doc: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(doc).encode(), "application/json; odata.metadata=minimal; odata.streaming=true;"
                   " IEEE754Compatible=false; charset=utf-8", headers)

    def _graph_error(self, e: _GraphError) -> None:
        inner = {"date": _now_iso(), "request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}
        self._json(e.status, {"error": {"code": e.code, "message": e.message, "innerError": inner}}, e.headers)

    def _aad_error(self, status: int, error: str, code: int, text: str) -> None:
        trace, corr = uuid.uuid4(), uuid.uuid4()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        self._json(status, {
            "error": error,
            "error_description": f"AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {stamp}",
            "error_codes": [code], "timestamp": stamp, "trace_id": str(trace), "correlation_id": str(corr),
            "error_uri": f"{self.graph.base_url}/error?code={code}",
        })

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            if parts[:1] == ["v1.0"]:
                self._graph(method, parts[1:], query)
            elif len(parts) >= 2:
                self._identity(method, parts, url)
            else:
                raise _GraphError(404, "NotFound", "not found")
        except _GraphError as e:
            self._graph_error(e)

    # ---- identity platform

    def _tenant_ok(self, name: str) -> bool:
        t = self.graph.tenant
        return name.lower() in (t.tenant_id.lower(), t.domain.lower(), f"{t.domain.split('.')[0]}.onmicrosoft.com")

    def _identity(self, method: str, parts: list[str], url: Any) -> None:
        t, base = self.graph.tenant, self.graph.base_url
        tenant = parts[0]
        if method == "GET" and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            if not self._tenant_ok(tenant):
                return self._aad_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found. Check to make sure"
                                       " you have the correct tenant ID and are signing into the correct cloud.")
            tid = t.tenant_id
            return self._json(200, {
                "token_endpoint": f"{base}/{tid}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                "jwks_uri": f"{base}/{tid}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/{tid}/v2.0",
                "request_uri_parameter_supported": False,
                "authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/{tid}/oauth2/v2.0/logout",
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
            })
        if method == "POST" and parts[1:] == ["oauth2", "v2.0", "token"]:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if not self._tenant_ok(tenant):
                return self._aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Check to make sure"
                                       " you have the correct tenant ID and are signing into the correct cloud.")
            if form.get("grant_type") != "client_credentials":
                return self._aad_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
            if form.get("client_id") != t.client_id:
                return self._aad_error(400, "unauthorized_client", 700016, f"Application with identifier "
                                       f"'{form.get('client_id')}' was not found in the directory '{t.domain}'. This can"
                                       " happen if the application has not been installed by the administrator of the"
                                       " tenant or consented to by any user in the tenant.")
            secret = form.get("client_secret")
            if secret is None and self.headers.get("Authorization", "").startswith("Basic "):
                secret = base64.b64decode(self.headers["Authorization"][6:]).decode().partition(":")[2]
            if secret != t.client_secret:
                return self._aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the"
                                       " secret being sent in the request is the client secret value, not the client"
                                       f" secret ID, for a secret added to app '{t.client_id}'.")
            if not (form.get("scope") or "").endswith("/.default"):
                return self._aad_error(400, "invalid_scope", 1002012, f"The provided value for scope "
                                       f"{form.get('scope')} is not valid. Client credential flows must have a scope"
                                       " value with /.default suffixed to the resource identifier (application ID URI).")
            token = "eyJ0eXAiOiJKV1Qi." + secrets.token_urlsafe(32)
            with t.lock:
                t.tokens[token] = (time.time() + t.token_lifetime, frozenset(t.roles))
                t.tokens_issued += 1
            return self._json(200, {"token_type": "Bearer", "expires_in": t.token_lifetime,
                                    "ext_expires_in": t.token_lifetime, "access_token": token})
        raise _GraphError(404, "NotFound", f"no identity endpoint {'/'.join(parts)}")

    # ---- Graph

    def _authorize(self) -> frozenset[str]:
        t = self.graph.tenant
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise _GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        with t.lock:
            found = t.tokens.get(auth[7:])
        if found is None:
            raise _GraphError(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed.")
        expires, roles = found
        if expires < time.time():
            raise _GraphError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
        return roles

    def _throttled(self) -> None:
        t = self.graph.tenant
        with t.lock:
            for th in t.throttles:
                if th.times > 0 and th.match in self.path:
                    th.times -= 1
                    headers = {"Retry-After": str(th.retry_after)} if th.retry_after is not None else {}
                    if th.status == 429:
                        raise _GraphError(429, "TooManyRequests", "Application is over its MailboxConcurrency limit.", headers)
                    raise _GraphError(th.status, "ServiceUnavailable", "Service Unavailable, please retry later.", headers)

    @staticmethod
    def _need(roles: frozenset[str], role: str, mail: bool) -> None:
        if role not in roles:
            if mail:
                raise _GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
            raise _GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")

    def _page(self, rows: list[dict[str, Any]], query: dict[str, str], context: str, default_top: int,
              max_top: int = 999) -> dict[str, Any]:
        """$top/$skiptoken paging of a collection: `@odata.nextLink` until the last page."""
        try:
            top = min(int(query.get("$top", default_top)), max_top, self.graph.tenant.max_page_size or max_top)
            skip = int(self.graph.tenant._untoken(query["$skiptoken"])["o"]) if "$skiptoken" in query else 0  # type: ignore[index]
        except (ValueError, TypeError, KeyError) as e:
            raise _GraphError(400, "BadRequest", f"Invalid paging parameter: {e}") from e
        doc: dict[str, Any] = {"@odata.context": f"{self.graph.graph_url}/$metadata#{context}", "value": rows[skip:skip + top]}
        if skip + top < len(rows):
            q = {k: v for k, v in query.items() if k != "$skiptoken"}
            q["$top"] = str(top)
            q["$skiptoken"] = self.graph.tenant._token({"o": skip + top})
            path = urlsplit(self.path).path
            doc["@odata.nextLink"] = f"{self.graph.base_url}{path}?{urlencode(q, quote_via=quote, safe='$')}"
        return doc

    @staticmethod
    def _select(obj: dict[str, Any], query: dict[str, str], default: tuple[str, ...] | None = None) -> dict[str, Any]:
        sel = [s.strip() for s in query.get("$select", "").split(",") if s.strip()]
        keys = sel or list(default or obj)
        return {k: obj.get(k) for k in keys if k in obj or sel}

    def _user_doc(self, u: User) -> dict[str, Any]:
        return {"id": u.id, "businessPhones": [], "displayName": u.display_name, "givenName": u.display_name.split()[0],
                "jobTitle": None, "mail": u.mail, "mobilePhone": None, "officeLocation": None, "preferredLanguage": None,
                "surname": None, "userPrincipalName": u.upn, "accountEnabled": u.account_enabled,
                "proxyAddresses": list(u.proxy_addresses), "userType": u.user_type}

    def _graph(self, method: str, parts: list[str], query: dict[str, str]) -> None:
        t = self.graph.tenant
        roles = self._authorize()
        self._throttled()
        if method == "POST" and len(parts) >= 3 and parts[0] == "users" and parts[2] == "mailFolders":
            with t.lock:
                return self._create(roles, parts[1], parts[3:])
        if method != "GET":
            raise _GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
        with t.lock:
            if parts == ["users"]:
                self._need(roles, "User.Read.All", False)
                rows = [self._select(self._user_doc(u), query, USER_DEFAULT_PROPS) for u in t.users.values()]
                return self._json(200, self._page(rows, query, "users", 100))
            if parts == ["groups"]:
                self._need(roles, "GroupMember.Read.All", False)
                rows = [self._select({"id": g.id, "displayName": g.display_name, "mail": g.mail,
                                      "mailEnabled": g.mail is not None, "securityEnabled": True}, query)
                        for g in t.groups.values()]
                return self._json(200, self._page(rows, query, "groups", 100))
            if len(parts) == 3 and parts[0] == "groups" and parts[2] in ("members", "transitiveMembers"):
                self._need(roles, "GroupMember.Read.All", False)
                g = t.groups.get(parts[1])
                if g is None:
                    raise _GraphError(404, "Request_ResourceNotFound",
                                      f"Resource '{parts[1]}' does not exist or one of its queried reference-property"
                                      " objects are not present.")
                ids = self._members(g, parts[2] == "transitiveMembers")
                rows = []
                for mid in ids:
                    if mid in t.users:
                        rows.append({"@odata.type": "#microsoft.graph.user",
                                     **self._select(self._user_doc(t.users[mid]), query, ("id", "displayName", "mail"))})
                    elif mid in t.groups:
                        rows.append({"@odata.type": "#microsoft.graph.group", "id": mid,
                                     "displayName": t.groups[mid].display_name})
                return self._json(200, self._page(rows, query, "directoryObjects", 100))
            if parts and parts[0] == "users" and len(parts) >= 2:
                return self._user_part(roles, parts[1], parts[2:], query)
        raise _GraphError(400, "BadRequest", f"Resource not found for the segment '{parts[0] if parts else ''}'.")

    def _members(self, g: Group, transitive: bool, seen: set[str] | None = None) -> list[str]:
        t, seen = self.graph.tenant, seen if seen is not None else set()
        out: list[str] = []
        for mid in g.members:
            if mid in seen:
                continue
            seen.add(mid)
            out.append(mid)
            if transitive and mid in t.groups:
                out += self._members(t.groups[mid], True, seen)
        return out

    def _mailbox(self, key: str) -> User:
        try:
            u = self.graph.tenant.user(key)
        except KeyError:
            raise _GraphError(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist or one of its queried"
                              " reference-property objects are not present.") from None
        return u

    def _user_part(self, roles: frozenset[str], key: str, rest: list[str], query: dict[str, str]) -> None:
        t = self.graph.tenant
        u = self._mailbox(key)
        if not rest:
            self._need(roles, "User.Read.All", False)
            return self._json(200, self._select(self._user_doc(u), query, USER_DEFAULT_PROPS))
        if rest[0] == "mailboxSettings":
            self._need(roles, "MailboxSettings.Read", True)
        else:
            self._need(roles, "Mail.Read", True)
            if u.id in t.blocked:
                raise _GraphError(403, "ErrorAccessDenied", "Access to OData is disabled: [RAOP] : Blocked by tenant"
                                  " configured AppOnly AccessPolicy settings.")
        if u.purpose is None:
            raise _GraphError(404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is"
                              " hosted on-premise.")
        if rest == ["mailboxSettings"]:
            return self._json(200, {"@odata.context": f"{self.graph.graph_url}/$metadata#users('{u.id}')/mailboxSettings",
                                    "archiveFolder": "", "timeZone": "UTC", "language": {"locale": "en-US"},
                                    "dateFormat": "M/d/yyyy", "timeFormat": "h:mm tt", "userPurpose": u.purpose,
                                    "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly"})
        if rest[0] == "messages" and len(rest) == 3 and rest[2] == "$value":
            m = u.messages.get(rest[1])
            if m is None:
                raise _GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            return self._send(200, m.raw, "text/plain")
        if rest[0] != "mailFolders":
            raise _GraphError(400, "BadRequest", f"Resource not found for the segment '{rest[0]}'.")
        if len(rest) == 1:
            return self._json(200, self._page(self._folders(u, u.root_id, query), query,
                                              f"users('{u.id}')/mailFolders", 10))
        try:
            fid = t.folder_id(u, rest[1]) if rest[1].lower() in WELL_KNOWN or rest[1] in u.folders else None
        except KeyError:
            fid = None
        if fid is None:
            raise _GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        f = u.folders[fid]
        if len(rest) == 2:
            return self._json(200, self._folder_doc(u, f))
        if rest[2:] == ["childFolders"]:
            return self._json(200, self._page(self._folders(u, fid, query), query,
                                              f"users('{u.id}')/mailFolders('{fid}')/childFolders", 10))
        if rest[2:] == ["messages", "delta"]:
            return self._delta(u, f, query)
        raise _GraphError(400, "BadRequest", f"Resource not found for the segment '{rest[2]}'.")

    def _create(self, roles: frozenset[str], key: str, rest: list[str]) -> None:
        """POST .../mailFolders, .../mailFolders/{id}/childFolders (JSON displayName) and
        .../mailFolders/{id}/messages: with `Content-Type: text/plain` the body is a base64 MIME message,
        created as a draft (Microsoft's "Create message" in MIME format); JSON bodies are not played here."""
        t = self.graph.tenant
        u = self._mailbox(key)
        self._need(roles, "Mail.ReadWrite", True)
        if u.id in t.blocked:
            raise _GraphError(403, "ErrorAccessDenied", "Access to OData is disabled: [RAOP] : Blocked by tenant"
                              " configured AppOnly AccessPolicy settings.")
        if u.purpose is None:
            raise _GraphError(404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is"
                              " hosted on-premise.")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        parent = u.root_id
        if rest:
            try:
                parent = t.folder_id(u, rest[0]) if rest[0].lower() in WELL_KNOWN or rest[0] in u.folders else ""
            except KeyError:
                parent = ""
            if not parent:
                raise _GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if rest == [] or rest[1:] == ["childFolders"]:
            try:
                name = str(json.loads(body)["displayName"])
            except (ValueError, KeyError, TypeError):
                raise _GraphError(400, "ErrorInvalidRequest", "The displayName property is required.") from None
            if any(f.parent_id == parent and f.display_name.lower() == name.lower() for f in u.folders.values()):
                raise _GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
            f = self._new(u, name, parent)
            return self._json(201, self._folder_doc(u, f))
        if rest[1:] == ["messages"]:
            if ctype != "text/plain":
                raise _GraphError(415, "UnsupportedMediaType", "Only the MIME form (text/plain, base64) is played here.")
            if length > 4 * 1024 * 1024:
                raise _GraphError(413, "RequestEntityTooLarge", "The request payload exceeds the 4 MB limit.")
            try:
                raw = base64.b64decode(body, validate=True)
            except ValueError:
                raise _GraphError(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.") from None
            if b"\n\n" not in raw.replace(b"\r\n", b"\n") and b":" not in raw.split(b"\n", 1)[0]:
                raise _GraphError(400, "ErrorMimeContentInvalid", "The MIME content is invalid.")
            m = Message(_graph_id("AAkALg"), raw, parent, is_read=False, is_draft=True)
            u.messages[m.id] = m
            u.folders[parent].log.append((next(t._seq), "add", m.id))
            return self._json(201, {**t._item(u, m, None), "isDraft": True})
        raise _GraphError(400, "BadRequest", "Resource not found for the segment.")

    def _new(self, u: User, name: str, parent: str) -> Folder:
        return self.graph.tenant._new_folder(u, name, parent)

    def _folder_doc(self, u: User, f: Folder) -> dict[str, Any]:
        children = sum(1 for c in u.folders.values() if c.parent_id == f.id)
        items = [m for m in u.messages.values() if m.folder_id == f.id]
        return {"id": f.id, "displayName": f.display_name, "parentFolderId": f.parent_id, "childFolderCount": children,
                "unreadItemCount": sum(1 for m in items if not m.is_read), "totalItemCount": len(items),
                "sizeInBytes": sum(len(m.raw) for m in items), "isHidden": f.hidden}

    def _folders(self, u: User, parent: str, query: dict[str, str]) -> list[dict[str, Any]]:
        hidden = query.get("includeHiddenFolders", "").lower() == "true"
        return [self._folder_doc(u, f) for f in u.folders.values() if f.parent_id == parent and (hidden or not f.hidden)]

    def _delta(self, u: User, f: Folder, query: dict[str, str]) -> None:
        t = self.graph.tenant
        base = f"{self.graph.graph_url}/users/{u.id}/mailFolders/{f.id}/messages/delta"
        gone = _GraphError(t.delta_expired_status, "syncStateNotFound", "The sync state generation is not found. The"
                           " delta token is expired and data must be synchronized again.", {"Location": base})
        prefer = self.headers.get("Prefer", "")
        size = 10
        for p in prefer.split(","):
            if p.strip().startswith("odata.maxpagesize="):
                size = max(1, int(p.strip().split("=", 1)[1]))
        if "$skiptoken" in query:
            st = t._untoken(query["$skiptoken"])
            rnd = t._rounds.get(str(st.get("r"))) if st else None
            if st is None or rnd is None or rnd.epoch != t._epoch or rnd.folder_id != f.id:
                raise gone
            offset = int(st["o"])
        else:
            since = None
            select = [s.strip() for s in query.get("$select", "").split(",") if s.strip()] or None
            if "$deltatoken" in query:
                dtk = t._untoken(query["$deltatoken"])
                if dtk is None or dtk.get("e") != t._epoch or dtk.get("f") != f.id:
                    raise gone
                since = int(dtk["s"])
                select = dtk.get("sel")  # query options of the first request travel inside the token
            seq = max((s for fo in u.folders.values() for s, _, _ in fo.log), default=0)
            rid = uuid.uuid4().hex
            t._rounds[rid] = _Round(u.id, f.id, self._changes_for(u, f, since, select), seq, t._epoch, select)
            rnd, offset, st = t._rounds[rid], 0, {"r": rid}
        page = rnd.items[offset:offset + size]
        doc: dict[str, Any] = {"@odata.context": f"{self.graph.graph_url}/$metadata#Collection(message)", "value": page}
        if offset + size < len(rnd.items):
            doc["@odata.nextLink"] = f"{base}?$skiptoken={t._token({'r': st['r'], 'o': offset + size})}"
        else:
            token = t._token({"f": f.id, "s": rnd.seq, "e": rnd.epoch, "sel": rnd.select})
            doc["@odata.deltaLink"] = f"{base}?$deltatoken={token}"
        self._json(200, doc, {"Preference-Applied": f"odata.maxpagesize={size}"})

    def _changes_for(self, u: User, f: Folder, since: int | None, select: list[str] | None) -> list[dict[str, Any]]:
        return self.graph.tenant._changes(u, f, since, select)


class GraphServer:
    """The HTTPS server in a thread; `stop()` and `start()` again on the same port play an outage."""

    def __init__(self, tenant: Tenant, cert_dir: Path, port: int = 0) -> None:
        self.tenant = tenant
        self.ca_file, self._cert, self._key = make_certificate(cert_dir)
        self.port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"https://{HOST}:{self.port}"

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    def start(self) -> GraphServer:
        handler = type("Handler", (_Handler,), {"graph": self})
        httpd = ThreadingHTTPServer((HOST, self.port), handler)
        httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self._cert, self._key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="graph-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def profile_config(self) -> dict[str, Any]:
        """The profile config that points mailark's client at this server."""
        return {"tenant_id": self.tenant.tenant_id, "client_id": self.tenant.client_id,
                "authority_url": self.base_url, "graph_url": self.graph_url}


def running_server(tenant: Tenant, cert_dir: Path) -> Iterator[GraphServer]:
    """For fixtures: `yield from running_server(tenant, tmp_path)`."""
    server = GraphServer(tenant, cert_dir).start()
    try:
        yield server
    finally:
        server.stop()
