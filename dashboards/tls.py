"""HTTPS for the web app: check the certificate and key before the server starts.

uvicorn would fail on a wrong pair with a traceback deep inside its start-up; here the operator
learns which file is wrong and what to do. Without both files the app serves plain HTTP, for a
reverse proxy that terminates TLS in front of it (docs/operators.md).
"""

from __future__ import annotations

import ssl
from pathlib import Path


class TlsConfigError(ValueError):
    """The certificate or key cannot be used (the message says which and why)."""


def check_tls(cert: Path | None, key: Path | None) -> tuple[Path, Path] | None:
    """(cert, key) when both are given and form a pair a TLS server can use; None when neither is given."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise TlsConfigError("HTTPS needs both a certificate and its private key: give --tls-cert and --tls-key "
                             "(settings web.tls_cert and web.tls_key), or neither for plain HTTP behind a proxy")
    for what, path in (("certificate", cert), ("private key", key)):
        if not path.is_file():
            raise TlsConfigError(f"the TLS {what} {str(path)!r} does not exist or is not a file")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except PermissionError:
        raise TlsConfigError(f"cannot read {str(cert)!r} or {str(key)!r}: let the user running mailark read "
                             f"them") from None
    except ssl.SSLError as e:
        raise TlsConfigError(f"the certificate {str(cert)!r} and key {str(key)!r} cannot be used together "
                             f"({e.reason or e}): give the PEM certificate chain and the unencrypted private "
                             f"key that belongs to it") from None
    return cert, key
