"""A Microsoft Graph client for app-only access: msal for the token, httpx for the calls.

It does what every Graph caller must: follows `@odata.nextLink` pages, waits out 429/503 with
their `Retry-After` (capped, then a backoff), renews an access token the service rejects, and turns
every failure into a `SourceError` whose message says what happened and what to do. A delta
token Microsoft no longer knows (410 Gone) is a `DeltaExpired`, for the caller to resync.
"""

from __future__ import annotations

import email.utils
import functools
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from mailark.config.settings import GraphSettings
from mailark.sources.network_policy import check_url
from mailark.sources.errors import SourceError

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_GRAPH = "https://graph.microsoft.com/v1.0"
RETRY_STATUSES = (429, 500, 502, 503, 504)
RESYNC_CODES = {"syncstatenotfound", "syncstateinvalid", "resyncrequired"}
# The application permission each kind of call needs, for the 403 message.
PERMISSION_HINTS = (
    ("/mailboxSettings", "MailboxSettings.Read"),
    ("/mailFolders", "Mail.Read"),
    ("/messages", "Mail.Read"),
    ("/groups", "GroupMember.Read.All"),
    ("/users", "User.Read.All"),
)


def seg(value: object) -> str:
    """One path segment: Graph ids may hold characters that mean something in a URL."""
    return quote(str(value), safe="")


class DeltaExpired(Exception):
    """Microsoft no longer knows this delta or skip token (410 Gone): start the folder over."""

    def __init__(self, location: str | None) -> None:
        super().__init__("delta token expired")
        self.location = location


@dataclass(frozen=True)
class GraphConfig:
    """A "graph" source profile's config (no secrets): which tenant, which app, which endpoints."""

    tenant_id: str
    client_id: str
    authority_url: str = DEFAULT_AUTHORITY
    graph_url: str = DEFAULT_GRAPH
    scope: str | None = None

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> GraphConfig:
        missing = [k for k in ("tenant_id", "client_id") if not str(config.get(k) or "").strip()]
        if missing:
            raise SourceError(f"the Microsoft 365 profile lacks {' and '.join(missing)}: set it with the tenant's "
                              "directory (tenant) id and the app registration's application (client) id",
                              retryable=False)
        for k in ("authority_url", "graph_url"):
            v = config.get(k)
            if v and urlsplit(str(v)).scheme != "https":
                raise SourceError(f"{k} {v!r} must be an https:// URL", retryable=False)
        return cls(str(config["tenant_id"]).strip(), str(config["client_id"]).strip(),
                   str(config.get("authority_url") or DEFAULT_AUTHORITY).rstrip("/"),
                   str(config.get("graph_url") or DEFAULT_GRAPH).rstrip("/"), config.get("scope") or None)

    @property
    def authority(self) -> str:
        return f"{self.authority_url}/{self.tenant_id}"

    @property
    def token_scope(self) -> str:
        """`https://graph.microsoft.com/.default` for the public cloud; the national clouds' Graph hosts alike."""
        if self.scope:
            return self.scope
        u = urlsplit(self.graph_url)
        return f"{u.scheme}://{u.netloc}/.default"


@dataclass
class ClientStats:
    requests: int = 0
    throttled: int = 0
    waits: list[float] = field(default_factory=list)  # seconds waited before each retry
    token_renewals: int = 0


def _retry_after(value: str | None) -> float | None:
    """Retry-After is delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _graph_error(resp: httpx.Response) -> tuple[str, str]:
    try:
        err = resp.json().get("error") or {}
        return str(err.get("code") or resp.status_code), str(err.get("message") or resp.reason_phrase)
    except ValueError:
        return str(resp.status_code), resp.reason_phrase


def _aad_reason(result: dict[str, Any]) -> str:
    """The first line of an AADSTS error description (the rest is trace and correlation ids)."""
    return str(result.get("error_description") or result.get("error") or "unknown error").splitlines()[0].strip()


class GraphClient:
    def __init__(self, config: GraphConfig | dict[str, Any], secret: dict[str, Any], settings: GraphSettings,
                 *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config if isinstance(config, GraphConfig) else GraphConfig.from_dict(config)
        client_secret = str((secret or {}).get("client_secret") or "")
        if not client_secret:
            raise SourceError("the Microsoft 365 profile has no client secret: add one with `mailark source add-m365`",
                              retryable=False)
        self._secret = client_secret
        check_url(self.config.authority_url, "the Microsoft identity platform")
        check_url(self.config.graph_url, "Microsoft Graph")
        self.settings = settings
        self.stats = ClientStats()
        self._sleep = sleep
        self._app: Any = None
        self._token: str | None = None
        self._token_lock = threading.Lock()
        self._token_renewed_at = 0.0
        self._verify: Any = str(settings.ca_file) if settings.ca_file else True
        self._session: Any = None
        verify: Any = ssl.create_default_context(cafile=str(settings.ca_file)) if settings.ca_file else True
        self._http = httpx.Client(verify=verify, timeout=settings.timeout, follow_redirects=False,
                                  headers={"Accept": "application/json"})

    def close(self) -> None:
        self._http.close()
        if self._session is not None:
            self._session.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the token ----------------------------------------------------------------------------

    def _msal(self) -> Any:
        if self._app is None:
            import msal
            import requests

            cfg = self.config
            session = requests.Session()
            # requests lets REQUESTS_CA_BUNDLE override a session's `verify`: pass ours on every request.
            extra: dict[str, Any] = {"timeout": self.settings.timeout}
            if self._verify is not True:
                extra["verify"] = self._verify
            session.request = functools.partial(session.request, **extra)  # type: ignore[method-assign]
            self._session = session
            try:
                self._app = msal.ConfidentialClientApplication(
                    cfg.client_id, client_credential=self._secret, authority=cfg.authority,
                    instance_discovery=False, http_client=session,
                )
            except requests.exceptions.RequestException as e:
                raise SourceError(f"cannot reach the Microsoft identity platform at {cfg.authority_url} "
                                  f"({type(e).__name__}); the next run retries") from None
            except ValueError as e:
                text = f"{e} {e.__context__ or ''}"  # msal wraps the discovery answer (AADSTS90002) in its own text
                if "90002" in text or "not found" in text.lower():
                    raise SourceError(f"Microsoft 365 tenant {cfg.tenant_id!r} was not found at {cfg.authority_url}: "
                                      "check the profile's tenant id (the directory id of the customer's tenant)",
                                      retryable=False) from None
                raise SourceError(f"the Microsoft identity platform at {cfg.authority_url} did not accept tenant "
                                  f"{cfg.tenant_id!r}: {str(e).splitlines()[0]}", retryable=False) from None
        return self._app

    def token(self, *, renew: bool = False) -> str:
        if self._token and not renew:
            return self._token
        with self._token_lock:  # several downloads may find the token rejected at once: renew it once
            if renew and self._token_renewed_at > time.monotonic() - 1:
                return str(self._token)
            token = self._acquire(renew)
            if renew:
                self._token_renewed_at = time.monotonic()
            return token

    def _acquire(self, renew: bool) -> str:
        import requests

        app = self._msal()
        if renew:  # the service rejected the cached token: drop it so msal asks for a new one
            import msal

            for at in list(app.token_cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                app.token_cache.remove_at(at)
            self.stats.token_renewals += 1
        try:
            result = app.acquire_token_for_client(scopes=[self.config.token_scope])
        except requests.exceptions.RequestException as e:
            raise SourceError(f"cannot reach the Microsoft identity platform at {self.config.authority_url} "
                              f"({type(e).__name__}); the next run retries") from None
        if "access_token" in result:
            self._token = str(result["access_token"])
            return self._token
        codes = set(result.get("error_codes") or [])
        reason = _aad_reason(result)
        cid = self.config.client_id
        if codes & {7000215, 7000222} or result.get("error") == "invalid_client":
            raise SourceError(f"Microsoft 365 refused the client secret of app {cid} ({reason}): the secret is wrong "
                              "or has expired; create a new client secret in the app registration and store it in "
                              "the profile", retryable=False)
        if 700016 in codes or result.get("error") == "unauthorized_client":
            raise SourceError(f"app {cid} is not known in tenant {self.config.tenant_id} ({reason}): check the "
                              "application (client) id and that an admin of the tenant consented to it",
                              retryable=False)
        if 90002 in codes:
            raise SourceError(f"Microsoft 365 tenant {self.config.tenant_id!r} was not found ({reason})", retryable=False)
        raise SourceError(f"Microsoft 365 gave no access token to app {cid}: {reason}", retryable=False)

    # ---- calls --------------------------------------------------------------------------------

    def _url(self, path_or_url: str) -> str:
        if not path_or_url.startswith("https://"):
            return f"{self.config.graph_url}{path_or_url}"
        # nextLink/deltaLink come from answers: the access token goes to Graph's own host only.
        u, g = urlsplit(path_or_url), urlsplit(self.config.graph_url)
        if (u.scheme, u.netloc.lower()) != (g.scheme, g.netloc.lower()):
            raise SourceError(f"Microsoft Graph answered with a link to another host ({u.netloc}); not followed",
                              retryable=False)
        return path_or_url

    def _wait(self, seconds: float) -> None:
        seconds = min(seconds, self.settings.max_retry_wait)
        self.stats.waits.append(seconds)
        self._sleep(seconds)

    def request(self, path_or_url: str, *, params: dict[str, str] | None = None,
                headers: dict[str, str] | None = None, method: str = "GET",
                content: bytes | None = None) -> httpx.Response:
        """GET (or a POST that creates something) with retries; a 2xx response or SourceError / DeltaExpired.

        A POST is retried only after 429 and 503, which Graph answers before doing anything: after
        another 5xx the item may exist already, and a retry could create it twice."""
        url = self._url(path_or_url)
        retry_statuses = RETRY_STATUSES if method == "GET" else (429, 503)
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            h = {"Authorization": f"Bearer {self.token()}", **(headers or {})}
            self.stats.requests += 1
            try:
                resp = self._http.request(method, url, params=params, headers=h, content=content)
            except httpx.TransportError as e:
                if method != "GET" and not isinstance(e, httpx.ConnectError):
                    raise SourceError(f"the connection to Microsoft Graph broke during a {method} to "
                                      f"{urlsplit(url).path} ({type(e).__name__}); check the mailbox before trying "
                                      "again (the item may have been created)") from None
                if attempt >= self.settings.max_attempts:
                    raise SourceError(f"cannot reach Microsoft Graph at {self.config.graph_url} ({type(e).__name__}: "
                                      f"{e}) after {attempt} attempts; the next run retries and catches up") from None
                self._wait(self.settings.backoff * 2 ** (attempt - 1))
                continue
            if resp.is_success:
                return resp
            code, message = _graph_error(resp)
            if resp.status_code in retry_statuses:
                self.stats.throttled += 1
                if attempt >= self.settings.max_attempts:
                    raise SourceError(f"Microsoft Graph kept answering {resp.status_code} {code} ({message}) after "
                                      f"{attempt} attempts; the next run retries and catches up")
                wait = _retry_after(resp.headers.get("Retry-After"))
                self._wait(wait if wait is not None else self.settings.backoff * 2 ** (attempt - 1))
                continue
            if resp.status_code == 401 and not renewed:
                renewed = True
                self.token(renew=True)
                attempt -= 1
                continue
            # Outlook answers an unknown delta token with 410 Gone; directory resources with 400 and
            # the same codes. Either way the caller starts over.
            if resp.status_code == 410 or (resp.status_code == 400 and code.lower() in RESYNC_CODES):
                raise DeltaExpired(resp.headers.get("Location"))
            path = urlsplit(url).path
            if resp.status_code == 403:
                need = "Mail.ReadWrite" if method != "GET" else next(
                    (perm for frag, perm in PERMISSION_HINTS if frag in path), "the needed")
                raise GraphDenied(f"Microsoft Graph denied {path} ({code}: {message}): grant app {self.config.client_id} "
                                  f"the application permission {need} with admin consent (or allow the mailbox in "
                                  "the tenant's application access policy)", retryable=False)
            if resp.status_code == 401:
                raise SourceError(f"Microsoft Graph rejected the app's access token ({code}: {message})", retryable=False)
            raise GraphHTTPError(resp.status_code, code, f"Microsoft Graph answered {resp.status_code} {code} for "
                                 f"{path}: {message}")

    def get_json(self, path_or_url: str, params: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None) -> dict[str, Any]:
        resp = self.request(path_or_url, params=params, headers=headers)
        try:
            doc = resp.json()
        except ValueError:
            raise SourceError(f"Microsoft Graph answered {urlsplit(str(resp.url)).path} with something that is not "
                              "JSON; the next run retries") from None
        if not isinstance(doc, dict):
            raise SourceError(f"Microsoft Graph answered {urlsplit(str(resp.url)).path} with unexpected JSON")
        return doc

    def get_bytes(self, path_or_url: str) -> bytes:
        return self.request(path_or_url, headers={"Accept": "*/*"}).content

    def pages(self, path: str, params: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every page of a collection, following `@odata.nextLink` (which carries the query itself)."""
        doc = self.get_json(path, params, headers)
        while True:
            yield doc
            nxt = doc.get("@odata.nextLink")
            if not nxt:
                return
            doc = self.get_json(str(nxt), None, headers)

    def items(self, path: str, params: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        for page in self.pages(path, params):
            yield from page.get("value") or []


class GraphDenied(SourceError):
    """403: a permission is missing, or an application access policy keeps the app out of a mailbox."""


class GraphHTTPError(SourceError):
    """An answer the client has no rule for (e.g. 404 for a mailbox removed a moment ago)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
