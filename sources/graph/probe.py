""""Test connection" for a Microsoft 365 profile: token, directory read, mail read, in one short call."""

from __future__ import annotations

from typing import Any

from mailark.config.settings import GraphSettings, get_settings
from mailark.sources.graph import tenant
from mailark.sources.graph.client import GraphClient, seg


def probe(config: dict[str, Any], secret: dict[str, Any], settings: GraphSettings | None = None) -> str:
    """What the connection can do, in words; raises SourceError saying what is wrong and what to do."""
    with GraphClient(config, secret, settings or get_settings().graph) as client:
        client.token()
        first = client.get_json("/users", {"$select": tenant.USER_FIELDS, "$top": "10"})
        users = first.get("value") or []
        more = " or more" if first.get("@odata.nextLink") else ""
        with_mail = next((u for u in users if tenant.addresses(u)[0]), None)
        mail = "no mailbox among the first users to check mail access"
        if with_mail is not None:
            client.get_json(f"/users/{seg(with_mail['id'])}/mailFolders", {"$top": "1"})
            mail = f"mail of {tenant.addresses(with_mail)[0]} readable"
        return (f"connected to Microsoft 365 tenant {client.config.tenant_id} as app {client.config.client_id}: "
                f"{len(users)}{more} users visible, {mail}")
