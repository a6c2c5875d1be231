"""Write archived copies back into a Microsoft 365 mailbox through Graph.

Microsoft documents one way to put a whole MIME message into a mailbox: `POST
/users/{id}/mailFolders/{folder}/messages` with `Content-Type: text/plain` and the MIME encoded
in base64 as the body (application permission Mail.ReadWrite). Exchange stores its own form of
the message (it is not byte-identical, unlike an IMAP APPEND), creates it as a draft, and takes
at most about 4 MB per request, so a larger message is refused with that reason and the others
go on. The folder is found by its display-name path from the top ("Inbox/Restored"; the first
part may be a well-known name such as `inbox`), and the parts that are missing are created.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from mailark.sources.errors import ItemRefused, SourceError
from mailark.sources.graph.client import GraphClient, GraphHTTPError, seg

# Graph takes at most 4 MB per request; base64 makes 3 bytes into 4.
MAX_MIME_BYTES = 3 * 1024 * 1024
WELL_KNOWN = ("inbox", "archive", "drafts", "sentitems", "deleteditems", "junkemail")


class TooLarge(ItemRefused):
    """The message is larger than one Graph request may carry."""


def find_user_id(client: GraphClient, address: str) -> str:
    """The Graph id of the mailbox with this address (its user principal name, or any SMTP address)."""
    try:
        return str(client.get_json(f"/users/{seg(address)}", {"$select": "id"})["id"])
    except GraphHTTPError as e:
        if e.status != 404:
            raise
    from mailark.sources.graph.tenant import addresses, users

    for u in users(client):
        primary, aliases = addresses(u)
        if address.lower() in (primary, *aliases, str(u.get("userPrincipalName") or "").lower()):
            return str(u["id"])
    raise SourceError(f"Microsoft 365 has no mailbox {address!r} in this tenant: was it removed or renamed?",
                      retryable=False)


class GraphCreator:
    """Creates messages from MIME in one folder of one Microsoft 365 mailbox."""

    def __init__(self, client: GraphClient, address: str, folder: str) -> None:
        if not folder.strip("/"):
            raise SourceError("name the folder to restore into (e.g. Restored)", retryable=False)
        self.client = client
        self.user_id = find_user_id(client, address)
        self.folder_id = self._folder(folder.strip("/"))

    def _children(self, parent: str | None) -> list[dict[str, Any]]:
        base = f"/users/{seg(self.user_id)}/mailFolders"
        path = base if parent is None else f"{base}/{seg(parent)}/childFolders"
        return list(self.client.items(path, {"$top": "100", "includeHiddenFolders": "true"}))

    def _create(self, parent: str | None, name: str) -> str:
        base = f"/users/{seg(self.user_id)}/mailFolders"
        path = base if parent is None else f"{base}/{seg(parent)}/childFolders"
        resp = self.client.request(path, method="POST", content=json.dumps({"displayName": name}).encode(),
                                   headers={"Content-Type": "application/json"})
        return str(resp.json()["id"])

    def _folder(self, path: str) -> str:
        parent: str | None = None
        for i, name in enumerate(path.split("/")):
            if i == 0 and name.lower() in WELL_KNOWN:
                found = self.client.get_json(f"/users/{seg(self.user_id)}/mailFolders/{seg(name.lower())}")
                parent = str(found["id"])
                continue
            match = [f for f in self._children(parent) if str(f.get("displayName") or "").lower() == name.lower()]
            parent = str(match[0]["id"]) if match else self._create(parent, name)
        assert parent is not None
        return parent

    def append(self, raw: bytes, date: object = None) -> str | None:
        """Create one message; returns its Graph id. `date` is not needed: Exchange reads the Date header."""
        if len(raw) > MAX_MIME_BYTES:
            raise TooLarge(f"the message is {len(raw):,} bytes; Microsoft Graph takes at most {MAX_MIME_BYTES:,} "
                           "in one request: download its .eml and import it with Outlook instead")
        resp = self.client.request(f"/users/{seg(self.user_id)}/mailFolders/{seg(self.folder_id)}/messages",
                                   method="POST", content=base64.b64encode(raw),
                                   headers={"Content-Type": "text/plain"})
        try:
            return str(resp.json().get("id") or "") or None
        except ValueError:
            return None

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> GraphCreator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
