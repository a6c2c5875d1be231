"""The SMTP endpoint (aiosmtpd): accept journal and import mail, write it durably, then say 250.

Replies a sender sees:
- 550 5.1.1: the recipient is no journal or import address of this deployment (or it is disabled);
- 530 5.7.0: the address requires SMTP AUTH (PLAIN/LOGIN, offered only after STARTTLS);
- 535 5.7.8: wrong credentials; 538 5.7.11: AUTH before STARTTLS;
- 552: the message is larger than `journal.max_message_bytes` (announced with SIZE);
- 452 4.3.1: the organization's storage is full: the sender keeps the message and retries;
- 451 4.3.0: the drop could not be written (disk, object store): the sender retries;
- 250: the message is sealed and on stable storage (file and directory synced, or an S3 PUT).

`JournalEndpoint(settings, runtime=rt).start() -> (host, port)` runs the server on its own thread and event
loop (what `mailark up` and `mailark journal serve` call); `.stop()` ends it. Sealing and fsync
run on a small thread pool so a slow disk does not stall other sessions.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TYPE_CHECKING

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mailark.catalog.archive import OrgArchive
from mailark.catalog.ingest import storage_used
from mailark.control.models import Organization
from mailark.config.settings import Settings, get_settings
from mailark.sources.journal import drops
from mailark.sources.journal.profiles import Route, load_routes
from mailark.sources.journal.quota import QuotaGate
from mailark.storage.crypto import Sealer

if TYPE_CHECKING:  # the handle is passed in by the caller; sources never open one themselves
    from mailark.sources.handle import SourceRuntime

log = logging.getLogger("mailark.journal")
# aiosmtpd itself sets the deprecated Session.login_data on every successful AUTH and warns about it.
logging.getLogger("mail.log").addFilter(lambda r: "login_data is deprecated" not in r.getMessage())

R_CONFLICT = ("451 4.3.0 <{}>: this address is claimed by two source profiles; the archive's operator must "
              "remove one (the message stays queued)")
R_UNKNOWN = "550 5.1.1 <{}>: no journal or import address of this archive (check the address in the journal rule)"
R_AUTH = "530 5.7.0 <{}> requires SMTP AUTH: STARTTLS, then AUTH PLAIN or LOGIN as this address"
R_NO_TLS = "530 5.7.0 <{}> requires SMTP AUTH, but this endpoint has no TLS certificate (journal.tls_cert)"
R_SENDER = ("550 5.7.1 <{}>: {} may not send to this journal address: authenticate (SMTP AUTH after STARTTLS) "
            "or ask the archive's admin to allow your mail servers' network")
R_FULL = "452 4.3.1 the archive of this organization is full; keep the message and retry later"
R_STORE = "451 4.3.0 the message could not be stored ({}); retry later"
R_THROTTLED = "454 4.7.0 too many failed authentications from your address; try again later"


class EndpointError(RuntimeError):
    pass


@dataclass
class _Org:
    archive: OrgArchive
    quota: int | None
    at: float


class Directory:
    """What the endpoint knows from the control plane: addresses, organizations' keys and quotas,
    re-read after `ttl` seconds (and at once, at most every second, for an unknown address)."""

    def __init__(self, rt: SourceRuntime, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rt = rt
        self.ttl = ttl
        self.clock = clock
        self._routes: dict[str, Route] = {}
        self._routes_at = float("-inf")
        self._orgs: dict[str, _Org] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        with self.rt.session() as s:
            routes = load_routes(s, self.rt.master_key, self.rt.settings.journal.domain)
        with self._lock:
            self._routes, self._routes_at = routes, self.clock()

    def route(self, address: str, *, miss_refresh: bool = True) -> Route | None:
        a = address.strip().lower()
        age = self.clock() - self._routes_at
        if age >= self.ttl or (miss_refresh and a not in self._routes and age >= 1.0):
            self.refresh()
        return self._routes.get(a)

    def org(self, org_id: str) -> _Org:
        now = self.clock()
        with self._lock:
            o = self._orgs.get(org_id)
            if o is not None and now - o.at < self.ttl:
                return o
        with self.rt.session() as s:
            org = s.get(Organization, org_id)
            if org is None:
                raise EndpointError(f"organization {org_id} no longer exists")
            s.expunge(org)
        o = _Org(o.archive if o else self.rt.archive_for(org), org.storage_quota_bytes, now)
        with self._lock:
            self._orgs[org_id] = o
        return o


class AuthThrottle:
    """Failed AUTHs per client IP in a sliding window; beyond the limit even a right password is refused."""

    def __init__(self, max_failures: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, ip: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(ip, []) if now - t < self.window]
        if kept:
            self._failures[ip] = kept
        else:
            self._failures.pop(ip, None)
        return kept

    def blocked(self, ip: str) -> bool:
        with self._lock:
            return len(self._recent(ip, self.clock())) >= self.max_failures

    def failed(self, ip: str) -> None:
        with self._lock:
            now = self.clock()
            self._failures[ip] = [*self._recent(ip, now), now]


class JournalHandler:
    """aiosmtpd hooks; every blocking step (control plane, catalogue, disk) runs on `pool`."""

    def __init__(self, rt: SourceRuntime, directory: Directory, pool: ThreadPoolExecutor, tls: bool) -> None:
        self.rt = rt
        self.directory = directory
        self.pool = pool
        self.tls = tls
        self.lake_lock = threading.Lock()  # the runtime's one DuckDB connection
        self.gate = QuotaGate(self._used, rt.settings.journal.quota_cache_seconds)
        self.throttle = AuthThrottle(rt.settings.journal.auth_max_failures, rt.settings.journal.auth_window_seconds)
        self._local = threading.local()

    # ---- blocking helpers (thread pool) ----------------------------------------------------

    def _used(self, org_id: str) -> int:
        o = self.directory.org(org_id)
        with self.lake_lock:
            used = storage_used(o.archive)
        return used + sum(i.size for i in drops.pending(self.rt.store, org_id))

    def _has_room(self, route: Route, incoming: int) -> bool:
        return self.gate.has_room(route.org_id, self.directory.org(route.org_id).quota, incoming)

    def _sealer(self, org_id: str) -> Sealer:
        """One sealer per thread and organization (a Sealer is not thread-safe)."""
        cache: dict[str, Sealer] = self._local.__dict__.setdefault("sealers", {})
        if org_id not in cache:
            a = self.directory.org(org_id).archive
            cache[org_id] = Sealer(a.org_id, a.keys.data_key, a.keys.all_data_keys(), a.zstd_level)
        return cache[org_id]

    def _store(self, routes: list[Route], raw: bytes, envelope: Envelope, session: Session) -> list[str]:
        names = []
        for r in routes:
            if not self._has_room(r, len(raw)):
                raise _Full()
            meta = drops.DropMeta(
                kind=r.kind, profile_id=r.profile_id, profile_name=r.profile_name, mailbox=r.mailbox,
                folder=r.folder, mail_from=envelope.mail_from or "", rcpt_tos=[r.address],
                peer=str(session.peer[0]) if session.peer else "", tls=session.ssl is not None,
                auth_user=session.auth_data if isinstance(session.auth_data, str) else None,
            )
            names.append(drops.write(self.rt.store, self._sealer(r.org_id), r.org_id, meta, raw))
            self.gate.accepted(r.org_id, len(raw))
        return names

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    # ---- SMTP hooks --------------------------------------------------------------------------

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = data.login.decode("utf-8", "replace").strip().lower()
        ip = str(session.peer[0]) if session.peer else ""
        if self.throttle.blocked(ip):
            log.warning("AUTH %s refused for %r from %s: too many failures", mechanism, login, ip)
            return AuthResult(success=False, handled=False, message=R_THROTTLED)
        route = self.directory.route(login)
        if route is not None and route.check_password(data.password.decode("utf-8", "replace")):
            log.info("AUTH %s as %s from %s", mechanism, login, ip)
            return AuthResult(success=True, auth_data=login)
        self.throttle.failed(ip)
        log.warning("AUTH %s refused for %r from %s: wrong address or password", mechanism, login, ip)
        return AuthResult(success=False, handled=False)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        route: Route | None = await self._run(self.directory.route, address)
        if route is None:
            log.info("550 for unknown recipient %s from %s", address, session.peer)
            return R_UNKNOWN.format(address)
        if route.conflict:
            return R_CONFLICT.format(address)
        if route.auth_required and session.auth_data != route.address:
            return (R_AUTH if self.tls else R_NO_TLS).format(address)
        peer = str(session.peer[0]) if session.peer else ""
        if not route.sender_allowed(peer, session.auth_data):
            log.warning("550 for %s from %s: not an allowed sender network and not authenticated", address, peer)
            return R_SENDER.format(address, peer)
        size = _size_param(envelope.mail_options)
        if not await self._run(self._has_room, route, size):
            log.warning("452 for %s: organization %s has no storage left", address, route.org_name)
            return R_FULL
        envelope.rcpt_tos.append(route.address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        found: list[Route | None] = await self._run(
            lambda: [self.directory.route(a, miss_refresh=False) for a in envelope.rcpt_tos])
        routes = [r for r in found if r is not None]
        if len(routes) != len(found):  # removed while the message was on its way: the sender retries and gets 550
            return R_STORE.format("a recipient address was removed meanwhile")
        try:
            names = await self._run(self._store, routes, raw, envelope, session)
        except _Full:
            return R_FULL
        except Exception as e:  # noqa: BLE001 - any failure to store must be a 4xx, never a 250
            log.exception("could not store a message of %d bytes", len(raw))
            return R_STORE.format(type(e).__name__)
        for r, n in zip(routes, names):
            log.info("accepted %d bytes for %s (%s %s) as %s", len(raw), r.address, r.org_name, r.kind, n)
        return "250 2.0.0 OK: stored as " + " ".join(n.rsplit("/", 1)[1] for n in names)


class _Full(Exception):
    pass


def _size_param(options: list[str]) -> int:
    for o in options:
        k, _, v = o.partition("=")
        if k.upper() == "SIZE" and v.isdigit():
            return int(v)
    return 0


class _SMTP(SMTP):
    """aiosmtpd's server with lines as long as a message may be: long lines are mail too, never a 500."""

    def __init__(self, handler: Any, *, line_limit: int, **kwargs: Any) -> None:
        self.line_length_limit = line_limit
        super().__init__(handler, **kwargs)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    j = settings.journal
    if not j.tls_cert and not j.tls_key:
        return None
    if not (j.tls_cert and j.tls_key and j.tls_cert.is_file() and j.tls_key.is_file()):
        raise EndpointError(f"the journal TLS certificate or key is missing (journal.tls_cert={j.tls_cert}, "
                            f"journal.tls_key={j.tls_key}): set both to PEM files, or neither")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(j.tls_cert, j.tls_key)
    return ctx


class JournalEndpoint:
    """The endpoint as a service: start() -> (host, port) in the background, stop() to end it."""

    def __init__(self, settings: Settings | None = None, *, runtime: SourceRuntime, host: str | None = None,
                 port: int | None = None, close_runtime: bool = False) -> None:
        """`runtime` is the caller's (the CLI opens one); `close_runtime` hands it over, closed at stop()."""
        self.settings = settings or get_settings()
        self.host = host if host is not None else self.settings.smtp_host
        self.port = port if port is not None else self.settings.smtp_port
        self._own_runtime = close_runtime
        self.rt = runtime
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.address: tuple[str, int] | None = None

    def start(self) -> tuple[str, int]:
        if self._thread is not None:
            raise EndpointError("the journal endpoint is already running")
        j = self.settings.journal
        ctx = tls_context(self.settings)
        directory = Directory(self.rt, j.routes_cache_seconds)
        directory.refresh()
        _ = self.rt.lake  # open the catalogue now (once, not raced by the writer threads; errors show at start)
        self._pool = ThreadPoolExecutor(max_workers=max(1, j.writer_threads), thread_name_prefix="journal-drop")
        handler = JournalHandler(self.rt, directory, self._pool, tls=ctx is not None)
        hostname = j.hostname or socket.gethostname()

        def factory() -> SMTP:
            return _SMTP(
                handler, line_limit=j.max_message_bytes, data_size_limit=j.max_message_bytes, enable_SMTPUTF8=True,
                hostname=hostname, ident="mailark journal endpoint", tls_context=ctx,
                require_starttls=bool(ctx and j.require_tls), auth_require_tls=True,
                authenticator=handler.authenticate, auth_exclude_mechanism=["CRAM-MD5"],
            )

        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(loop.create_server(factory, self.host, self.port))
            except BaseException as e:  # noqa: BLE001 - reported to start()
                failure.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="journal-endpoint", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread = None
            self._pool.shutdown()
            raise EndpointError(f"the journal endpoint cannot listen on {self.host}:{self.port}: {failure[0]}")
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        self.address = (host, port)
        log.info("journal endpoint listening on %s:%d (STARTTLS %s)", host, port, "on" if ctx else "off")
        return host, port

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        loop, server = self._loop, self._server

        async def close() -> None:
            if server is not None:
                server.close()  # no new sessions; open ones end with the loop (no 250 was owed to them)
            loop.stop()

        asyncio.run_coroutine_threadsafe(close(), loop)
        self._thread.join(timeout=30)
        self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # writes in flight finish; their senders got no 250 if cut
        if self._own_runtime:
            self.rt.close()

    def __enter__(self) -> JournalEndpoint:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
