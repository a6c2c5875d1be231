"""Read people and groups from an LDAP server or Active Directory (ldap3), and check a user's password.

Connections: `security` = "ldaps" (TLS from the start), "starttls" (plain port, upgraded before the
bind) or "none" (plain text: only for a directory on the same host); certificates are always checked,
against the profile's CA (`ca_pem`, PEM text) when given, else the system's trusted CAs. Searches are paged (`page_size`), so
directories larger than the server's size limit are read whole.

Everything that goes wrong becomes a `SourceError` saying what happened and what to do:
`retryable` when the server is unreachable (the next scheduled run may succeed), not when the
bind DN/password or the certificate is refused (a person must act).
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from typing import Any

import ldap3
from ldap3.core import exceptions as lx
from ldap3.utils.dn import safe_dn

from mailark.control.directory_records import DirectoryGroup, DirectorySnapshot, DirectoryUser
from mailark.sources.network_policy import check_url
from mailark.sources.errors import SourceError

DEFAULT_TIMEOUT = 10


class BindRefused(SourceError):
    """The directory refused the DN/password (as opposed to: could not be asked)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)

DEFAULT_PAGE_SIZE = 500
UAC_ACCOUNTDISABLE = 0x2


def _tls(config: dict[str, Any]) -> ldap3.Tls:
    # The profile's CA as PEM text (ca_pem), or a file named before ca_pem existed (mailark.control.trust).
    pem = config.get("ca_pem") or None
    return ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_data=pem, ca_certs_file=None if pem else config.get("ca_file") or None,
                     version=ssl.PROTOCOL_TLS_CLIENT)


def _server(config: dict[str, Any]) -> ldap3.Server:
    url = config.get("url") or ""
    security = config.get("security", "starttls")
    if not url.startswith(("ldap://", "ldaps://")):
        raise SourceError(f"the directory URL {url!r} is not an LDAP URL: use ldap://host[:port] or ldaps://host[:port]",
                          retryable=False)
    if security == "ldaps" and not url.startswith("ldaps://"):
        url = "ldaps://" + url.removeprefix("ldap://")
    use_ssl = url.startswith("ldaps://")
    check_url(url, "the directory server")
    timeout = float(config.get("timeout") or DEFAULT_TIMEOUT)
    tls = _tls(config) if security != "none" or use_ssl else None
    return ldap3.Server(url, use_ssl=use_ssl, tls=tls, get_info=ldap3.NONE, connect_timeout=timeout)


def _explain(config: dict[str, Any], exc: Exception, who: str) -> SourceError:
    url = config.get("url")
    text = str(exc)
    if isinstance(exc, lx.LDAPSSLConfigurationError):
        named = f", or the file {config['ca_file']!r} named before it" if config.get("ca_file") else ""
        return SourceError(f"the TLS settings for {url} are not usable ({text}): check the profile's CA "
                           f"certificate (ca_pem{named})", retryable=False)
    if "certificate" in text.lower() or isinstance(exc, ssl.SSLError):
        return SourceError(f"the TLS certificate of {url} is not trusted ({text}): give the CA that signed it "
                           f"(ca_pem; the CLI's --ca-file) or fix the server's certificate", retryable=False)
    if isinstance(exc, lx.LDAPStartTLSError):
        return SourceError(f"{url} refused StartTLS ({text}): use security ldaps, or enable TLS on the server",
                           retryable=False)
    if isinstance(exc, lx.LDAPBindError | lx.LDAPInvalidCredentialsResult):
        return BindRefused(f"the directory {url} refused the bind as {who}: wrong bind DN or password "
                           f"(update the profile's credentials)")
    if isinstance(exc, lx.LDAPSocketOpenError | lx.LDAPSocketReceiveError | lx.LDAPSessionTerminatedByServerError
                  | lx.LDAPSocketSendError | lx.LDAPResponseTimeoutError | lx.LDAPMaximumRetriesError):
        return SourceError(f"cannot reach the directory server {url} ({text}): is it up and reachable from "
                           f"this host? The next scheduled sync tries again", retryable=True)
    return SourceError(f"the directory {url} answered with an error: {text}", retryable=True)


def connect(config: dict[str, Any], bind_dn: str, password: str) -> ldap3.Connection:
    """A bound connection (TLS first when configured); raises SourceError in words."""
    if not password:
        # An empty password is an "unauthenticated bind" that servers accept: never treat it as a login.
        raise SourceError(f"no password for {bind_dn}: a directory bind needs one", retryable=False)
    try:
        conn = ldap3.Connection(_server(config), bind_dn, password, raise_exceptions=True,
                                receive_timeout=max(1, int(config.get("timeout") or DEFAULT_TIMEOUT)),
                                read_only=True, auto_referrals=False)  # AD's partition referrals: not ours to chase
        conn.open()
        if config.get("security", "starttls") == "starttls" and not str(config.get("url", "")).startswith("ldaps://"):
            conn.start_tls()
        conn.bind()
        return conn
    except SourceError:
        raise
    except (lx.LDAPException, ssl.SSLError, OSError) as e:
        raise _explain(config, e, bind_dn) from None
    except (KeyError, ValueError, IndexError, TypeError):  # ldap3 meeting an answer that is not LDAP
        raise SourceError(f"{config.get('url')} did not answer as an LDAP server would: check the URL and port",
                          retryable=True) from None


def check_password(config: dict[str, Any], dn: str, password: str) -> bool:
    """True when the directory accepts `password` for `dn` (an LDAP bind as the user).

    False for a wrong password; SourceError when the directory cannot be asked (down, TLS).
    """
    if not password or not dn:
        return False
    try:
        conn = connect(config, dn, password)
    except BindRefused:
        return False
    try:
        conn.unbind()
    except lx.LDAPException:
        pass
    return True


def _first(attrs: dict[str, Any], name: str | None) -> Any:
    if not name:
        return None
    v = attrs.get(name)
    if isinstance(v, list):
        return v[0] if v else None
    return v if v not in ("", b"") else None


def _all(attrs: dict[str, Any], name: str | None) -> list[Any]:
    if not name:
        return []
    v = attrs.get(name)
    if v is None:
        return []
    return list(v) if isinstance(v, list) else [v]


def _external_id(entry: dict[str, Any], name: str | None) -> str | None:
    """objectGUID is 16 bytes (little-endian GUID as AD shows it); entryUUID and the like are text."""
    if not name:
        return None
    raw = _first(entry.get("raw_attributes", {}), name)
    if isinstance(raw, bytes) and len(raw) == 16 and name.lower() == "objectguid":
        return str(uuid.UUID(bytes_le=raw))
    v = _first(entry["attributes"], name)
    if isinstance(v, bytes):
        return v.hex()
    return str(v).lower() if v is not None else None


def norm_dn(dn: str) -> str:
    try:
        return safe_dn(dn).lower()
    except Exception:  # noqa: BLE001 - an odd DN still compares as text
        return dn.strip().lower()


def _search(conn: ldap3.Connection, base: str, flt: str, attributes: list[str], page_size: int) -> Iterator[dict[str, Any]]:
    for e in conn.extend.standard.paged_search(base, flt, search_scope=ldap3.SUBTREE, attributes=attributes,
                                               paged_size=page_size, generator=True):
        if e.get("type") == "searchResEntry":
            yield e


def _addresses(config: dict[str, Any], attrs: dict[str, Any]) -> tuple[str | None, list[str]]:
    a = config["attributes"]
    mail = _first(attrs, a.get("mail"))
    values = [str(v).strip() for v in _all(attrs, a.get("aliases"))]
    primary = mail.strip().lower() if isinstance(mail, str) and mail.strip() else None
    aliases: list[str] = []
    if config.get("aliases_style") == "proxy":
        for v in values:
            kind, _, addr = v.partition(":")
            if kind == "SMTP" and addr:
                primary = addr.lower()  # the upper-case SMTP: entry is the primary address
        for v in values:
            kind, _, addr = v.partition(":")
            if kind.lower() == "smtp" and addr:
                aliases.append(addr.lower())
    else:
        aliases = [v.lower() for v in values if v]
    return primary, [x for x in dict.fromkeys(aliases) if x != primary and "@" in x]


def _disabled(config: dict[str, Any], attrs: dict[str, Any]) -> bool:
    style, name = config.get("disabled_style", "none"), config["attributes"].get("disabled")
    if style == "uac" and name:
        v = _first(attrs, name)
        try:
            return bool(int(v) & UAC_ACCOUNTDISABLE) if v is not None else False
        except (TypeError, ValueError):
            return False
    if style == "present" and name:
        return _first(attrs, name) is not None
    return False


def _login(config: dict[str, Any], attrs: dict[str, Any]) -> str | None:
    v = _first(attrs, config["attributes"].get("login"))
    if not isinstance(v, str) or not v.strip():
        return None
    v = v.strip().lower()
    if "@" not in v:
        dom = config.get("login_domain")
        return f"{v}@{dom.lower()}" if dom else None
    return v


def read_directory(config: dict[str, Any], secret: dict[str, Any]) -> DirectorySnapshot:
    """Everything the profile's filters select, as a DirectorySnapshot (users, groups, memberships)."""
    a = config["attributes"]
    base = config.get("base_dn") or ""
    page = int(config.get("page_size") or DEFAULT_PAGE_SIZE)
    user_attrs = [x for x in {a.get(k) for k in ("external_id", "login", "mail", "aliases", "display_name", "uid",
                                                  "member_of", "disabled")} if x]
    group_attrs = [x for x in {a.get(k) for k in ("group_name", "group_external_id", "group_members",
                                                   "group_member_uids")} if x]
    conn = connect(config, config.get("bind_dn") or "", secret.get("bind_password") or "")
    snap = DirectorySnapshot()
    try:
        by_dn: dict[str, str] = {}
        by_uid: dict[str, str] = {}
        member_of: dict[str, list[str]] = {}
        for e in _search(conn, config.get("user_base") or base, config["user_filter"], user_attrs, page):
            attrs = e["attributes"]
            ext = _external_id(e, a.get("external_id"))
            login = _login(config, attrs)
            if not ext or not login:
                what = "no stable id (" + str(a.get("external_id")) + ")" if not ext else f"no login ({a.get('login')})"
                snap.problems.append(f"{e['dn']}: left out: {what}")
                continue
            primary, aliases = _addresses(config, attrs)
            name = _first(attrs, a.get("display_name"))
            snap.users.append(DirectoryUser(
                external_id=ext, login=login, primary_address=primary or login, aliases=tuple(aliases),
                display_name=str(name) if name else None, enabled=not _disabled(config, attrs), dn=e["dn"]))
            by_dn[norm_dn(e["dn"])] = ext
            uid = _first(attrs, a.get("uid"))
            if isinstance(uid, str):
                by_uid[uid.lower()] = ext
            for g in _all(attrs, a.get("member_of")):
                member_of.setdefault(norm_dn(str(g)), []).append(ext)
        for e in _search(conn, config.get("group_base") or base, config["group_filter"], group_attrs, page):
            attrs = e["attributes"]
            ext = _external_id(e, a.get("group_external_id"))
            name = _first(attrs, a.get("group_name"))
            if not ext or not name:
                snap.problems.append(f"{e['dn']}: left out: no stable id or name")
                continue
            members = list(member_of.get(norm_dn(e["dn"]), []))
            members += [by_dn[d] for d in (norm_dn(str(m)) for m in _all(attrs, a.get("group_members"))) if d in by_dn]
            members += [by_uid[u] for u in (str(m).lower() for m in _all(attrs, a.get("group_member_uids"))) if u in by_uid]
            snap.groups.append(DirectoryGroup(external_id=ext, name=str(name), member_ids=tuple(dict.fromkeys(members))))
    except lx.LDAPException as e:
        raise _explain(config, e, config.get("bind_dn") or "") from None
    finally:
        try:
            conn.unbind()
        except lx.LDAPException:
            pass
    return snap

