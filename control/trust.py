"""The CA a source or directory profile trusts: PEM text stored in the profile, never a server path.

A profile used to name `ca_file`, a path on the archive's server. An organization's Admin could
point it at any file the service can read (a probe for what exists, a way to make the service parse
it). Now the CA certificate travels as text (`ca_pem`): the pages and the API take the PEM, the
CLI's `--ca-file` reads a file on the operator's machine and sends its text. A `ca_file` stored
before stays honoured as it is, and only the deployment operator (the CLI on the server, who can
read the server's files anyway) may set or change one (docs/security-sources.md).
"""

from __future__ import annotations

import re
import ssl
from typing import Any

from mailark.control.orgs import ControlError, Forbidden
from mailark.control.principals import Principal

MAX_PEM_CHARS = 100_000
_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----")


def check_ca_pem(text: str) -> str:
    """The certificates of `text` (PEM), one after another; refused with what to give otherwise."""
    if len(text) > MAX_PEM_CHARS:
        raise ControlError(f"the CA certificate is too long (more than {MAX_PEM_CHARS} characters): give only the "
                           "certificate of the CA that signed the server's certificate, as PEM")
    if "PRIVATE KEY" in text:
        raise ControlError("this is a private key: give the CA's certificate (-----BEGIN CERTIFICATE-----), never a key")
    certs = _CERT.findall(text)
    if not certs:
        raise ControlError("the CA certificate must be PEM text (-----BEGIN CERTIFICATE----- ... "
                           "-----END CERTIFICATE-----)")
    pem = "\n".join(c.replace("\r\n", "\n") for c in certs) + "\n"
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError):
        raise ControlError("the CA certificate is not a readable X.509 certificate in PEM: export it again "
                           "(openssl x509 -in ca.crt -outform PEM)") from None
    return pem


def checked_trust(principal: Principal, config: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """`config` with its `ca_pem` checked, and a new or changed `ca_file` refused unless the deployment
    operator sets it (a stored one, unchanged, stays: profiles made before ca_pem keep working)."""
    out = dict(config)
    if out.get("ca_pem"):
        out["ca_pem"] = check_ca_pem(str(out["ca_pem"]))
        out.pop("ca_file", None)  # the certificate given replaces a file named before
    elif "ca_pem" in out:
        out.pop("ca_pem")  # empty: the system's trusted CAs
    given = out.get("ca_file")
    if given and given != (stored or {}).get("ca_file") and not principal.is_deployment:
        raise Forbidden("a CA is given as PEM text (ca_pem: the certificate itself), not as a file on the archive's "
                        "server (ca_file); the CLI's --ca-file reads a file on your machine and sends its text")
    if not given:
        out.pop("ca_file", None)
    return out


def tls_client_context(ca_pem: str | None, ca_file: str | None) -> ssl.SSLContext:
    """A verifying client context trusting the profile's CA (PEM text first, a legacy stored file else),
    or the system's trusted CAs."""
    if ca_pem:
        return ssl.create_default_context(cadata=ca_pem)
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    return ssl.create_default_context()
