"""What a Microsoft 365 tenant holds, read through Graph: its users and mailboxes, their folders.

Shared by the mail sync and the directory reader. Guests (invited outsiders) are left out. A
shared mailbox is a user object (its account disabled) whose `mailboxSettings.userPurpose` is
"shared"; rooms and equipment are skipped (they are resources, not people's mail); a user without
an Exchange mailbox answers 404 `MailboxNotEnabledForRESTAPI` and has nothing to archive.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mailark.sources.graph.client import GraphClient, GraphHTTPError, seg

USER_FIELDS = "id,displayName,userPrincipalName,mail,proxyAddresses,accountEnabled,userType"
ARCHIVED_PURPOSES = {"user": "user", "shared": "shared", "linked": "user", "others": "user"}


@dataclass(frozen=True)
class M365Mailbox:
    user_id: str
    login: str  # userPrincipalName
    address: str  # primary SMTP address
    aliases: tuple[str, ...]
    display_name: str | None
    enabled: bool
    kind: str  # user | shared (mailark's mailbox kinds)


@dataclass(frozen=True)
class M365Folder:
    id: str
    path: str  # display names from the top, joined with "/": "Inbox/Projects/2026"
    total: int


def addresses(user: dict[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    """(primary, aliases) from proxyAddresses: "SMTP:" marks the primary, "smtp:" the others; `mail` otherwise."""
    primary = None
    aliases: list[str] = []
    for p in user.get("proxyAddresses") or []:
        kind, _, addr = str(p).partition(":")
        if kind == "SMTP" and addr:
            primary = addr.lower()
        elif kind == "smtp" and addr:
            aliases.append(addr.lower())
    if primary is None and user.get("mail"):
        primary = str(user["mail"]).lower()
    return primary, tuple(a for a in dict.fromkeys(aliases) if a != primary)


def users(client: GraphClient) -> Iterator[dict[str, Any]]:
    """The tenant's own users; guests (invited outsiders, `userType` Guest) are not its people."""
    for u in client.items("/users", {"$select": USER_FIELDS, "$top": "999"}):
        if str(u.get("userType") or "Member") != "Guest":
            yield u


def mailbox_purpose(client: GraphClient, user_id: str) -> str | None:
    """userPurpose of the user's mailbox, or None when the user has none."""
    try:
        doc = client.get_json(f"/users/{seg(user_id)}/mailboxSettings")
    except GraphHTTPError as e:
        if e.status == 404:
            return None
        raise
    return str(doc.get("userPurpose") or "user")


def mailboxes(client: GraphClient) -> list[M365Mailbox]:
    """Every user and shared mailbox of the tenant."""
    out: list[M365Mailbox] = []
    for u in users(client):
        primary, aliases = addresses(u)
        if not primary:
            continue  # no mail address: no Exchange mailbox
        purpose = mailbox_purpose(client, u["id"])
        kind = ARCHIVED_PURPOSES.get(purpose or "")
        if kind is None:
            continue
        out.append(M365Mailbox(u["id"], str(u.get("userPrincipalName") or primary).lower(), primary, aliases,
                               u.get("displayName"), bool(u.get("accountEnabled", True)), kind))
    return out


def folders(client: GraphClient, user_id: str) -> list[M365Folder]:
    """All mail folders of a mailbox, nested ones included (depth first), hidden ones left out."""
    out: list[M365Folder] = []

    def walk(path: str, prefix: str) -> None:
        for f in client.items(path, {"$top": "100"}):
            full = f"{prefix}{f.get('displayName') or f['id']}"
            out.append(M365Folder(f["id"], full, int(f.get("totalItemCount") or 0)))
            if int(f.get("childFolderCount") or 0) > 0:
                walk(f"/users/{seg(user_id)}/mailFolders/{seg(f['id'])}/childFolders", f"{full}/")

    walk(f"/users/{seg(user_id)}/mailFolders", "")
    return out
