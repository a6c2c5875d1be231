"""The services' sentences on the pages, in the reader's language (see control.notices).

A warning carries its sentence code and parameters; a stored sentence (a pause reason, an export's
error) is recognized from its English text. Anything else is shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mailark.control import notices


def _number(v: Any, lang: str) -> Any:
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 1000:
        text = f"{v:,}"
        return text.replace(",", ".") if lang == "de" else text
    return v


# Parameters that are English words of the services (what was being done, role lists, a licence status):
# said through the dictionary too, so that a German sentence does not quote English.
WORDS = frozenset({"doing", "roles", "status", "what"})


def say(item: Mapping[str, Any] | str | None, _: Callable[[str], str], lang: str = "en") -> str:
    """`item`: a warning dict (`notice` + `params`, else its `message`) or a stored English sentence."""
    if item is None:
        return ""
    if isinstance(item, Mapping):
        code, params, fallback = item.get("notice") or "", item.get("params") or {}, str(item.get("message", ""))
        if code not in notices.TEMPLATES:
            return say(fallback, _, lang)
    else:
        found = notices.recognize(item)
        if found is None:
            return _(item)
        code, params, fallback = found.code, found.params, item
        if _(notices.TEMPLATES[code]) == notices.TEMPLATES[code]:
            return item  # no translation (English): the sentence exactly as the service said it
    try:
        return _(notices.TEMPLATES[code]).format(**{k: _(v) if k in WORDS and isinstance(v, str) else _number(v, lang)
                                                    for k, v in params.items()})
    except (KeyError, IndexError, ValueError):  # a translation naming a parameter the sentence lacks
        return fallback
