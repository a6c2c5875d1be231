"""Where a source may connect: never to this machine or its cloud's metadata service by accident.

An organization's Admin names the host of an IMAP server, an LDAP directory or (national clouds) a
Microsoft Graph endpoint. Without a check, that is a way to make the archive connect to anything the
archive can reach: its own web app and Prefect API on loopback, or a cloud metadata service on
169.254.169.254 (server-side request forgery). Every such host is resolved and checked before any
connection; private ranges stay allowed (an MSP's customers' servers are often private), and an
operator can allow more networks (`sources.allow_networks`).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import psutil

from mailark.config.settings import get_settings
from mailark.sources.errors import SourceError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _special(ip: IPAddress) -> str | None:
    if ip.is_loopback:
        return "this machine (loopback)"
    if ip.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "a reserved address"
    return None


def _own_addresses() -> set[IPAddress]:
    found: set[IPAddress] = set()
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            try:
                found.add(ipaddress.ip_address(a.address.split("%")[0]))
            except ValueError:
                continue
    return found


def check_destination(host: str, port: int | None, what: str) -> None:
    """Raise SourceError (not retryable) when `host` resolves to an address a source may not reach."""
    settings = get_settings()
    allowed = [ipaddress.ip_network(n, strict=False) for n in settings.sources.allow_networks]
    try:
        infos = socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise SourceError(f"{what} {host!r} cannot be resolved: check the host name", retryable=True) from None
    own_ports = {settings.web_port, settings.smtp_port, urlsplit(settings.prefect_api_url).port or 4200}
    own = None
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if any(ip in net for net in allowed):
            continue
        why = _special(ip)
        if why is None and port in own_ports:
            own = own if own is not None else _own_addresses()
            why = "this machine's own service port" if ip in own else None
        if why is not None:
            raise SourceError(f"{what} {host!r} resolves to {ip}, {why}: sources may not connect there. If this is "
                              "really your server, the operator can allow its network (setting "
                              "sources.allow_networks, MAILARK_SOURCES__ALLOW_NETWORKS)", retryable=False)


def check_url(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.hostname:
        default = {"https": 443, "http": 80, "ldaps": 636, "ldap": 389}.get(parts.scheme)
        check_destination(parts.hostname, parts.port or default, what)
