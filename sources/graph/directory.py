"""The Microsoft 365 directory as `DirectorySnapshot` records: users, shared mailboxes and groups.

Only reads; the directory sync rules (sources/directory, control plane) decide what changes.
Users come with their primary SMTP address and `smtp:` aliases from proxyAddresses, their
enabled flag and kind ("shared" for shared mailboxes); a user without any mail address has no
mailbox to archive and is left out. Groups list their members' ids transitively (members of
nested groups count), users only.

Application permissions: User.Read.All, GroupMember.Read.All, MailboxSettings.Read.
"""

from __future__ import annotations

from typing import Any

from mailark.config.settings import GraphSettings, get_settings
from mailark.control.directory_records import DirectoryGroup, DirectorySnapshot, DirectoryUser
from mailark.sources.graph import tenant
from mailark.sources.graph.client import GraphClient, seg


def read_directory(config: dict[str, Any], secret: dict[str, Any], settings: GraphSettings | None = None) -> DirectorySnapshot:
    with GraphClient(config, secret, settings or get_settings().graph) as client:
        return read_with(client)


def read_with(client: GraphClient) -> DirectorySnapshot:
    snap = DirectorySnapshot()
    user_ids: set[str] = set()
    for u in tenant.users(client):
        primary, aliases = tenant.addresses(u)
        if not primary:
            continue
        purpose = tenant.mailbox_purpose(client, u["id"])
        if purpose in ("room", "equipment"):
            continue
        snap.users.append(DirectoryUser(
            external_id=u["id"], login=str(u.get("userPrincipalName") or primary).lower(), primary_address=primary,
            aliases=aliases, display_name=u.get("displayName"), enabled=bool(u.get("accountEnabled", True)),
            kind="shared" if purpose == "shared" else "user",
        ))
        user_ids.add(u["id"])
    for g in client.items("/groups", {"$select": "id,displayName,mail", "$top": "999"}):
        members = client.items(f"/groups/{seg(g['id'])}/transitiveMembers", {"$select": "id", "$top": "999"})
        ids = tuple(dict.fromkeys(m["id"] for m in members
                                  if m.get("@odata.type") == "#microsoft.graph.user" and m.get("id") in user_ids))
        snap.groups.append(DirectoryGroup(external_id=g["id"], name=str(g.get("displayName") or g["id"]), member_ids=ids))
    return snap
