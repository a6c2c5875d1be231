"""Which package serves which source kind, for the things every kind offers (a connection test).

Imported lazily: a deployment without a kind's optional dependencies still runs the others.
"""

from __future__ import annotations

import importlib
from typing import Any

from sources.errors import SourceError

PACKAGES = {"imap": "sources.imap", "graph": "sources.graph.probe"}


def probe(kind: str, config: dict[str, Any], secret: dict[str, Any]) -> str:
    """Connect and authenticate as a run would; a one-line description of what answered."""
    package = PACKAGES.get(kind)
    if package is None:
        raise SourceError(f"{kind} sources receive mail, there is nothing to connect to", retryable=False)
    try:
        module = importlib.import_module(package)
    except ImportError as e:
        raise SourceError(f"{kind} sources are not available in this installation ({e})", retryable=False) from None
    return str(module.probe(config, secret))
