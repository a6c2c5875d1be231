"""The sentences the services say to people (licence warnings, pause reasons, export states), each with
a code and parameters, so that the API keeps its English `message` and the pages can say it in German.

A sentence is made from its English template (`notice(code, **params)`); one that was stored as text
(a source's or the archive's `paused_reason`, an export's `error`) is read back into code and
parameters by `recognize`, which matches the same templates, so nothing needs a second column.

The common refusals an admin meets on the pages (licence limits, "already exists", a missing role, a
locked login) are recognized the same way from the `ControlError`'s text, rather than given a code
where they are raised: the dozens of raise sites, the API's `detail` and the tests that match the
English stay exactly as they are, and a sentence that is reworded at its raise site (or one without a
template) is still shown, in English, instead of breaking the page. Tests raise each one for real and
check that it is recognized, so a rewording does not go unnoticed.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

_NO_ADMIN = " would leave organization '{org}' without an Admin; make another user an Admin first"

TEMPLATES: dict[str, str] = {
    # licence warnings (control.licensing.licence_warnings)
    "storage_high": "storage is {percent} % full ({used_gb} GB used of {quota_gb} GB licensed)",
    "storage_full": "storage is full: archiving is paused ({used_gb} GB used of {quota_gb} GB licensed)",
    "users_full": "all {licensed_users} licensed users are in use",
    "mailboxes_full": "all {mailbox_quota} licensed archive mailboxes are in use",
    "users_over": ("over licence: {users} users for {licensed_users} licensed; nothing can be added until it fits "
                   "(remove users, or the MSP operator raises the licence)"),
    "mailboxes_over": ("over licence: {mailboxes} archive mailboxes for {mailbox_quota} licensed; no mailbox can be "
                       "added until it fits (the MSP operator raises the licence)"),
    "trial_expires": "the trial expires on {date}",
    "trial_becomes_paid": "the trial becomes paid on {date}",
    # why archiving is paused (control.metering; copied onto sources and the archive)
    "paused_storage_full": ("storage is full ({used_gb} GB used of {quota_gb} GB licensed): archiving resumes by itself "
                            "when there is room (raise the storage tier, or delete mail or exports)"),
    "paused_trial_ended": ("the trial of '{org}' was cancelled and has ended: archiving resumes when the MSP operator "
                           "renews the licence (mailark licence renew --org {org})"),
    "paused_subscription_ended": ("the subscription of '{org}' was cancelled and has ended: archiving has stopped "
                                  "(the MSP operator undoes the cancellation with: mailark licence resume --org {org})"),
    "paused": "archiving is paused",
    # export jobs (mailark.operations.exports, control.exports)
    "export_paused_quota": ("paused: the storage quota of {org} ({quota_bytes} bytes) was reached after {done} of "
                            "{total} items; nothing was kept. Export {export_id} resumes by itself when there is room "
                            "(raise the quota or delete old exports), or resume it now"),
    "export_interrupted": ("interrupted: the process writing this export stopped (nothing of it was kept); "
                           "resume it to run it again"),
    # refusals an admin meets on the pages: read back from the ControlError's English text (the raise sites are
    # unchanged, so the API and the CLI say exactly what they said; tests/dashboards/test_web_confirmations.py
    # raises each one for real and checks it is recognized, so a reworded raise site is caught)
    "refused_users_full": ("organization '{org}' uses all {licensed_users} licensed users: remove a user or raise the "
                           "licence (the MSP operator raises it with: mailark licence set --org {org} --users N)"),
    "refused_mailboxes_full": ("organization '{org}' has all {quota} archive mailboxes its licence allows "
                               "({licensed_users} users x {mailboxes_per_user} mailboxes per user; shared and journal "
                               "mailboxes count too): raise the licence (the MSP operator raises it with: mailark "
                               "licence set --org {org} --users N or --mailboxes-per-user N)"),
    "refused_trial_ended": ("the trial of organization '{org}' was cancelled and has ended: nothing can be added until "
                            "the MSP operator renews the licence (mailark licence renew --org {org})"),
    "refused_licence_below_users": "organization '{org}' has {users} users: remove some before licensing only {new_users}",
    "refused_licence_below_mailboxes": ("organization '{org}' has {mailboxes} archive mailboxes, more than {new_users} x "
                                        "{mailboxes_per_user} = {quota}: mailboxes are never deleted, so keep a quota "
                                        "of at least {mailboxes}"),
    "refused_not_a_tier": "storage of {storage_gb} GB is not a tier: choose one of {tiers} GB",
    "refused_not_in_trial": "organization '{org}' is not in its trial (status {status})",
    "refused_user_exists": "user '{login}' already exists",
    "refused_group_exists": "group '{group}' already exists",
    "refused_address_taken": "address '{address}' already belongs to an archive mailbox of organization '{org}'",
    "refused_already_primary": "'{address}' is already the primary address of its mailbox",
    "refused_domain_ours": "domain '{domain}' is already a domain of this organization",
    "refused_domain_taken": "domain '{domain}' is already taken on this deployment",
    "refused_domain_taken_directory": "domain '{domain}' is taken on this deployment",
    "refused_source_exists": "organization '{org}' already has a source named '{name}'",
    "refused_directory_exists": "organization '{org}' already has a directory profile named '{name}'",
    "refused_needs_role": "{doing} needs the {roles} role in organization '{org}'",
    "refused_operator_only": "{doing} is for the MSP operator (ask your provider)",
    "refused_unrestricted_operator_only": "{doing} is for MSP operators who serve every organization",
    # (control.identity.keeping_an_admin: the specific ones first, a group's before a user's)
    "refused_last_admin_group_delete": "refused: deleting group '{group}'" + _NO_ADMIN,
    "refused_last_admin_member": "refused: removing {login} from group '{group}'" + _NO_ADMIN,
    "refused_last_admin_delete": "refused: deleting {login}" + _NO_ADMIN,
    "refused_last_admin_disable": "refused: disabling {login}" + _NO_ADMIN,
    "refused_last_admin_role": "refused: taking the {role} role from {holder}" + _NO_ADMIN,
    "refused_last_admin": "refused: {doing}" + _NO_ADMIN,
    "refused_login_locked": "too many failed logins for {login}: locked, try again in {minutes} minutes",
    "refused_password_short": "the password is too short: use at least {length} characters",
    # a page's form that did not validate (the detail, from the form library, stays as it is); the general one last
    "refused_not_a_number": "{what} is a whole number, not '{value}': correct it and send the form again",
    "refused_form_field": "the form is not valid: {field}: {problem}; correct it and send the form again",
    "refused_form_numbers": "the form is not valid: use whole numbers ({detail})",
    "refused_form": "the form is not valid: {detail}",
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


@functools.cache
def _patterns() -> dict[str, re.Pattern[str]]:
    """Built on first use: compiling them cost every process that imports this module 15 ms."""
    return {code: _pattern(t) for code, t in TEMPLATES.items()}


def _value(text: str) -> Any:
    plain = text.replace(",", "")
    if plain.isdigit():
        return int(plain)
    if re.fullmatch(r"\d+\.\d", plain):  # GB below 10 shown with one decimal (control.metering.shown_gb)
        return float(plain)
    return text


def recognize(message: str | None) -> Notice | None:
    """The code and parameters of a sentence made by `notice` (None for any other text)."""
    if not message:
        return None
    for code, pattern in _patterns().items():
        m = pattern.match(message.strip())
        if m:
            return Notice(code, {k: _value(v) for k, v in m.groupdict().items()}, message)
    return None
