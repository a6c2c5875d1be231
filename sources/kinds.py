"""Which package serves which source kind, for the things every kind offers (a connection test).

Imported lazily: a deployment without a kind's optional dependencies still runs the others.
"""

from __future__ import annotations

import importlib
import logging
import re
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from mailark.control import audit
from mailark.control.models import Organization
from mailark.control.principals import Principal
from mailark.control.sources import get_source, profile_by_id, source_secret
from mailark.sources.errors import SourceError
from mailark.storage.keys import MasterKey

log = logging.getLogger("mailark.sources")
PACKAGES = {"imap": "mailark.sources.imap", "graph": "mailark.sources.graph.probe"}


def probe(kind: str, config: dict[str, Any], secret: dict[str, Any]) -> str:
    """Connect and authenticate as a run would; a one-line description of what answered."""
    package = PACKAGES.get(kind)
    if package is None:
        raise SourceError(f"{kind} sources receive mail, there is nothing to connect to", retryable=False)
    try:
        module = importlib.import_module(package)
    except ImportError as e:
        raise SourceError(f"{kind} sources are not available in this installation ({e})", retryable=False) from None
    try:
        return str(module.probe(config, secret))
    except (ValidationError, KeyError, TypeError, ValueError) as e:
        raise SourceError(f"the source's settings are incomplete or wrong ({_first_line(e)}): correct them and test again",
                          retryable=False) from None


def test_source(session: Session, principal: Principal, org: Organization | str, name: str,
                master: MasterKey) -> tuple[bool, str]:
    """An Admin's connection test of a profile (API and CLI): the verdict in words, audited."""
    view = get_source(session, principal, org, name)
    try:
        ok, message = True, probe(view.kind, view.config, source_secret(profile_by_id(session, view.id), master))
    except SourceError as e:
        log.info("connection test of source %s failed: %s", view.id, e)  # the detail stays in the server's log
        where = view.config.get("host") or view.config.get("graph_url") or ""
        ok, message = False, failure_category(str(e), view.kind) + (f" [{where}]" if where else "")
    audit.record(session, principal, "source.test", org_id=view.org_id, target=name, outcome="ok" if ok else "failed",
                 details={"message": message})
    return ok, message


# What a failed connection test says: a category in our own words, never bytes the remote sent (a
# test aimed at some other service must not become a way to read what that service answers).
_CATEGORIES = (
    (r"sources may not connect there", "refused by policy: sources may not connect to this machine, link-local or "
                                       "reserved addresses (the operator can allow a network)"),
    (r"cannot be resolved|gaierror|Name or service not known", "the host name cannot be resolved: check it"),
    (r"settings are incomplete|invalid settings|not an LDAP URL|needs|no password|no client secret|"
     r"nothing to connect to|not available in this installation",
     None),  # our own words about the profile or the kind: said as they are
    (r"timed? ?out|timeout", "timed out: nothing answered in time (a firewall, or the wrong port)"),
    (r"certificate", "TLS failed: the server's certificate is not trusted (give its CA) or does not match the host"),
    (r"TLS|SSL|STARTTLS|StartTLS", "TLS failed: check the port and the security setting"),
    (r"refused the bind|wrong bind DN", "login refused: wrong bind DN or password (update the profile's credentials)"),
    (r"refused the login|AADSTS|invalid_client|unauthorized_client|credentials",
     "login refused: check the user name and password (or token, client id and secret)"),
    (r"cannot reach|refused|unreachable", "refused: nothing takes connections at that address and port"),
)


def failure_category(message: str, kind: str) -> str:
    for pattern, category in _CATEGORIES:
        if re.search(pattern, message, re.I):
            return message if category is None else category
    server = {"imap": "an IMAP server", "graph": "Microsoft Graph", "ldap": "an LDAP server"}.get(kind, "the expected server")
    return f"not {server}: what answered did not speak its protocol (check the host and port)"


def validate_config(kind: str, config: dict[str, Any]) -> None:
    """Refuse settings a run could not use, when they are saved rather than at the first run."""
    try:
        if kind == "imap":
            from mailark.sources.imap.config import ImapConfig

            ImapConfig.model_validate(config)
        elif kind == "graph":
            missing = [k for k in ("tenant_id", "client_id") if not str(config.get(k) or "").strip()]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
    except (ValidationError, ValueError) as e:
        raise SourceError(f"invalid settings for a {kind} source: {_first_line(e)}", retryable=False) from None


def _first_line(e: Exception) -> str:
    if isinstance(e, ValidationError):
        err = e.errors()[0]
        return f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
    return str(e).splitlines()[0] if str(e) else type(e).__name__
