"""The sentences the services say to people (licence warnings, pause reasons, export states), each with
a code and parameters, so that the API keeps its English `message` and the pages can say it in German.

A sentence is made from its English template (`notice(code, **params)`); one that was stored as text
(a source's or the archive's `paused_reason`, an export's `error`) is read back into code and
parameters by `recognize`, which matches the same templates, so nothing needs a second column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

TEMPLATES: dict[str, str] = {
    # licence warnings (control.licensing.licence_warnings)
    "storage_high": "storage is {percent} % full ({used_gb} GB used of {quota_gb} GB licensed)",
    "storage_full": "storage is full: archiving is paused ({used_gb} GB used of {quota_gb} GB licensed)",
    "users_full": "all {licensed_users} licensed users are in use",
    "mailboxes_full": "all {mailbox_quota} licensed archive mailboxes are in use",
    "trial_expires": "the trial expires on {date}",
    "trial_becomes_paid": "the trial becomes paid on {date}",
    # why archiving is paused (control.metering; copied onto sources and the archive)
    "paused_storage_full": ("storage is full ({used_gb} GB used of {quota_gb} GB licensed): archiving resumes by itself "
                            "when there is room (raise the storage tier, or delete mail or exports)"),
    "paused_trial_ended": ("the trial of '{org}' was cancelled and has ended: archiving resumes when the MSP operator "
                           "renews the licence (mailark licence renew --org {org})"),
    "paused": "archiving is paused",
    # export jobs (flows.exporting, control.exports)
    "export_paused_quota": ("paused: the storage quota of {org} ({quota_bytes} bytes) was reached after {done} of "
                            "{total} items; nothing was kept. Raise the quota or delete old exports, then resume "
                            "export {export_id}"),
    "export_interrupted": ("interrupted: the process writing this export stopped (nothing of it was kept); "
                           "resume it to run it again"),
}


@dataclass(frozen=True)
class Notice:
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params), "message": self.message}


def notice(code: str, **params: Any) -> Notice:
    """The sentence `code` with its parameters filled in (numbers with thousands separators)."""
    shown = {k: f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 1000 else v
             for k, v in params.items()}
    return Notice(code, params, TEMPLATES[code].format(**shown))


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    seen: set[str] = set()
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(re.escape(part))
        elif part in seen:
            out.append(f"(?P={part})")
        else:
            seen.add(part)
            out.append(f"(?P<{part}>.+?)")
    return re.compile("^" + "".join(out) + "$", re.S)


PATTERNS = {code: _pattern(t) for code, t in TEMPLATES.items()}


def _value(text: str) -> Any:
    plain = text.replace(",", "")
    return int(plain) if plain.isdigit() else text


def recognize(message: str | None) -> Notice | None:
    """The code and parameters of a sentence made by `notice` (None for any other text)."""
    if not message:
        return None
    for code, pattern in PATTERNS.items():
        m = pattern.match(message.strip())
        if m:
            return Notice(code, {k: _value(v) for k, v in m.groupdict().items()}, message)
    return None
