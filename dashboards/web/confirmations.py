"""What a form did ("done"), as a code and parameters, said in the reader's language.

A form that succeeds redirects to its page with `?done=<code>&<param>=<value>...`: the URL never
carries the sentence itself. The page shows the fixed sentence of a known code, with the parameters
escaped as values inside it; an unknown code, or one whose parameters are missing, shows nothing.
So a crafted link can neither put words of its own into the service's mouth (it can at most change
a login or a name inside one of these sentences) nor inject markup, and German pages say it in German
(the templates are keys of `dashboards.web.i18n.DE`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from markupsafe import Markup, escape

# English sentences, one per code; `{name}` is a parameter (named like a form field, never `done`,
# `lang` or `kind`, which the pages read from the URL for other things).
TEMPLATES: dict[str, str] = {
    # mailboxes, domains, addresses, readers (admin.py)
    "mailbox_added": "the archive mailbox {address} is added",
    "domain_added": "the domain {domain} is added",
    "alias_added": "{alias} now reaches {mailbox}",
    "mailbox_retired": "the archive mailbox {address} is retired: no new mail goes into it; its mail stays readable",
    "mailbox_unretired": "the archive mailbox {address} takes new mail again",
    "alias_removed": "the address {alias} is removed",
    "alias_primary": "{address} is now the primary address ({aliases} still reach the mailbox)",
    "user_may_read": "the user {login} may read {mailbox}",
    "group_may_read": "the group {group} may read {mailbox}",
    "user_may_not_read": "the user {login} may no longer read {mailbox}",
    "group_may_not_read": "the group {group} may no longer read {mailbox}",
    # groups and roles
    "group_added": "the group {group} is added",
    "group_deleted": "the group {group} is deleted",
    "member_added": "{login} joined the group {group}",
    "member_removed": "{login} left the group {group}",
    "user_role_assigned": "the user {login} has the role {role}",
    "group_role_assigned": "the group {group} has the role {role}",
    "user_role_revoked": "the user {login} no longer has the role {role}",
    "group_role_revoked": "the group {group} no longer has the role {role}",
    # users
    "user_enabled": "{login} is enabled",
    "user_disabled": "{login} is disabled",
    "user_deleted": "{login} is deleted",
    "user_totp_reset": "{login} has no TOTP now",
    "user_password_reset": "{login} has a new one-time password (shown once, give it to them):",
    # sources and directory profiles (sources_pages.py)
    "source_saved": "the source {name} is saved",
    "source_enabled": "the source {name} is enabled",
    "source_disabled": "the source {name} is disabled",
    "source_removed": "the source {name} is removed; what it archived stays archived",
    "directory_added": "the directory profile {name} is added",
    "directory_saved": "the directory profile {name} is saved",
    "directory_enabled": "the directory profile {name} is enabled",
    "directory_disabled": "the directory profile {name} is disabled",
    "directory_removed": "the directory profile {name} is removed; the users, groups and mailboxes it synced stay",
    # restore to mailbox (pages.py)
    "mail_restored": "{restored} of {selected} message(s) restored into {mailbox}, folder {folder}",
    # sign-in provider (sign_in_pages.py)
    "sign_in_saved": "sign-in with {provider} is saved",
    "sign_in_removed": "the sign-in provider is removed: users log in with their password",
    # account and licence (full sentences of their own)
    "token_revoked": "The token is revoked: it no longer works.",
    "licence_changed": "The licence is changed; it applies at once.",
    "trial_cancelled": "The trial is cancelled: it expires at its end instead of becoming paid.",
    "licence_renewed": "The licence is renewed: it is paid from now on.",
    "subscription_cancelled": ("The subscription is cancelled: it ends at the end of this month; then a grace period "
                               "for exports, then the organization is locked and deleted."),
    "subscription_resumed": "The cancellation is undone: the subscription runs on.",
}

NAMES: dict[str, tuple[str, ...]] = {code: tuple(re.findall(r"\{(\w+)\}", t)) for code, t in TEMPLATES.items()}
MAX_VALUE = 200  # characters of a parameter shown (a login or a name; anything longer is cut)
VALUE = Markup('<strong class="value">{}</strong>')


@dataclass(frozen=True)
class Confirmation:
    code: str
    params: dict[str, str] = field(default_factory=dict)


def confirmation(code: str, **params: object) -> Confirmation:
    """The confirmation `code` (a programming error if the code or a parameter is unknown or missing)."""
    if code not in TEMPLATES or set(params) != set(NAMES[code]):
        raise KeyError(f"confirmation {code!r} takes {NAMES.get(code)}, not {sorted(params)}")
    return Confirmation(code, {k: str(v) for k, v in params.items()})


def location(path: str, done: Confirmation, anchor: str = "") -> str:
    """The page to redirect to after a form, with the confirmation's code and parameters."""
    return f"{path}?{urlencode({'done': done.code, **done.params})}{anchor}"


def from_query(query: Mapping[str, str]) -> Confirmation | None:
    """The confirmation in a page's URL; None for no code, an unknown code or a missing parameter."""
    code = query.get("done")
    if code not in TEMPLATES:
        return None
    params = {name: query.get(name) for name in NAMES[code]}
    if any(v is None or not v.strip() for v in params.values()):
        return None
    return Confirmation(code, {k: str(v)[:MAX_VALUE] for k, v in params.items()})


def confirm(done: Confirmation | None, _: Callable[[str], str], lang: str = "en") -> Markup:
    """The sentence in the reader's language, each parameter escaped inside <strong class="value">."""
    if not isinstance(done, Confirmation) or done.code not in TEMPLATES:
        return Markup("")
    values = {k: VALUE.format(v) for k, v in done.params.items()}
    try:
        return Markup(escape(_(TEMPLATES[done.code]))).format(**values)
    except (KeyError, IndexError, ValueError):  # a translation naming a parameter the sentence lacks
        return Markup(escape(TEMPLATES[done.code])).format(**values)
