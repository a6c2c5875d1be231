"""`--json`: one JSON document on stdout, dates in ISO 8601 (imported alone by the quick search)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def json_default(o: Any) -> Any:
    if isinstance(o, datetime | date):
        return o.isoformat()
    if isinstance(o, Decimal):
        return float(o)
    if isinstance(o, bytes):
        return o.hex()
    if is_dataclass(o) and not isinstance(o, type):
        return asdict(o)
    if isinstance(o, set | frozenset):
        return sorted(o)
    return str(o)


def print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, default=json_default, ensure_ascii=False) + "\n")
