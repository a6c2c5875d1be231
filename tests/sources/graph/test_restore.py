"""Restore to mailbox through Microsoft Graph (the local Graph server, the real client)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mailark.control.principals import Principal, user_principal
from mailark.operations.restore_mail import RestoreRequest, restore_mail
from mailark.sources.graph.sync import sync_profile
from tests.peers.graph_server import Tenant
from tests.sources.graph.helpers import corpus_messages


def _ann(rt, tenant: Tenant, profile: str, raws: list[bytes]) -> tuple[Principal, dict[str, bytes]]:  # type: ignore[no-untyped-def]
    """ann@contoso.example: a Reader of acme whose own mailbox the profile archives; item id -> bytes."""
    from mailark.control.identity import add_domain, create_user

    ann = tenant.add_user("ann")
    for raw in raws:
        tenant.add_message(ann, "inbox", raw)
    op = Principal.deployment_operator()
    with rt.session(write=True) as s:
        add_domain(s, op, "acme", "contoso.example")
        nu = create_user(s, op, "acme", "ann@contoso.example", password="pw-long-enough-1", with_mailbox=True,
                         roles=("Reader",))
        who = user_principal(nu.user)
    assert sync_profile(rt, profile).status == "ok"
    by_sha = {hashlib.sha256(r).hexdigest(): r for r in raws}
    rows = rt.lake.execute("SELECT item_id, copy_sha256 FROM lake.mailbox_items").fetchall()
    return who, {item: by_sha[sha] for item, sha in rows}


def _folder(tenant: Tenant, user: str, *path: str) -> list:  # type: ignore[type-arg]
    u = tenant.user(user)
    parent = u.well_known["inbox"] if path[0].lower() == "inbox" else u.root_id
    for name in path[1:] if path[0].lower() == "inbox" else path:
        parent = next(f.id for f in u.folders.values() if f.parent_id == parent and f.display_name == name)
    return [m for m in u.messages.values() if m.folder_id == parent]


def test_restore_creates_the_mime_in_a_folder_made_on_the_way(rt, org, tenant, profile, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    tenant.roles.add("Mail.ReadWrite")
    ann, archived = _ann(rt, tenant, profile, corpus_messages(corpus, 4))
    chosen = sorted(archived)[:2]
    result = restore_mail(rt, ann, "acme", RestoreRequest(item_ids=tuple(chosen), into_folder="Inbox/Restored"))
    assert (result.status, result.restored, result.kind, result.target) == ("done", 2, "graph", "ann@contoso.example")
    created = _folder(tenant, "ann", "Inbox", "Restored")
    assert sorted(m.raw for m in created) == sorted(archived[i] for i in chosen)
    assert all(m.is_draft for m in created)  # as Exchange creates MIME messages
    # Microsoft's MIME form: text/plain with base64; the folder was created once, then reused.
    assert tenant.count("POST", "/mailFolders/") == 3 and tenant.count("POST", "/messages", 201) == 2
    again = restore_mail(rt, ann, "acme", RestoreRequest(item_ids=(chosen[0],), into_folder="inbox/restored"))
    assert again.restored == 1 and len(_folder(tenant, "ann", "Inbox", "Restored")) == 3


def test_without_mail_readwrite_the_restore_fails_and_says_which_permission(rt, org, tenant, profile, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    ann, archived = _ann(rt, tenant, profile, corpus_messages(corpus, 2))
    result = restore_mail(rt, ann, "acme", RestoreRequest(item_ids=tuple(archived)))
    assert (result.status, result.restored) == ("failed", 0)
    assert "Mail.ReadWrite" in (result.error or "")


def test_a_message_too_large_for_one_request_is_skipped_and_the_rest_restored(rt, org, tenant, profile, corpus: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.sources.graph import create

    tenant.roles.add("Mail.ReadWrite")
    raws = corpus_messages(corpus, 3)
    ann, archived = _ann(rt, tenant, profile, raws)
    biggest = max(archived, key=lambda i: len(archived[i]))
    monkeypatch.setattr(create, "MAX_MIME_BYTES", len(archived[biggest]) - 1)
    result = restore_mail(rt, ann, "acme", RestoreRequest(item_ids=tuple(archived)))
    assert (result.status, result.restored) == ("partial", 2)
    assert [f["item_id"] for f in result.failed] == [biggest] and "download its .eml" in result.failed[0]["reason"]
    assert len(_folder(tenant, "ann", "Restored")) == 2
