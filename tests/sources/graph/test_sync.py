"""Mail sync of a Microsoft 365 tenant against the local Graph server; the client is the real one."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from mailark.control import sources
from mailark.control.models import Mailbox
from mailark.sources.graph.sync import sync_profile
from tests.peers.graph_server import GraphServer, Tenant
from tests.sources.graph.helpers import corpus_messages, items, ledger


def populate(tenant: Tenant, corpus: Path) -> dict[str, list[bytes]]:
    """ann: 10 in Inbox (3 delta pages of 4), 2 in Inbox/Projects/2026, 1 in Sent Items; bob: 2;
    info@ (shared): 2; carl has no mailbox; a room mailbox and a guest are not archived."""
    msgs = corpus_messages(corpus, 18)
    ann = tenant.add_user("ann", aliases=("ann.smith@contoso.example",))
    bob = tenant.add_user("bob")
    info = tenant.add_shared_mailbox("info")
    tenant.add_user("carl", purpose=None)
    room = tenant.add_user("room1", purpose="room")
    tenant.add_guest("partner@fabrikam.example")  # an invited outsider: no archive mailbox for them
    projects = tenant.add_folder(ann, "Projects", parent="inbox")
    y2026 = tenant.add_folder(ann, "2026", parent=projects.id)
    for raw in msgs[:10]:
        tenant.add_message(ann, "inbox", raw)
    for raw in msgs[10:12]:
        tenant.add_message(ann, y2026.id, raw)
    tenant.add_message(ann, "sentitems", msgs[12])
    for raw in msgs[13:15]:
        tenant.add_message(bob, "inbox", raw)
    for raw in msgs[15:17]:
        tenant.add_message(info, "inbox", raw)
    tenant.add_message(room, "inbox", msgs[17])
    return {"ann": msgs[:13], "bob": msgs[13:15], "info": msgs[15:17]}


def test_first_run_archives_every_mailbox_and_nested_folder_byte_exact(rt, org, graph: GraphServer, tenant: Tenant,
                                                                        profile: str, corpus: Path) -> None:
    sent = populate(tenant, corpus)
    tenant.max_page_size = 2  # /users and mailFolders come in pages of 2: the client must follow nextLink
    res = sync_profile(rt, profile)
    assert res.status == "ok", res.error
    assert res.counts.archived == 17 and res.counts.duplicates == 0 and res.counts.quarantined == 0
    assert res.mailboxes == 3  # ann, bob, info; carl has no mailbox, the room is a resource
    rows = items(rt)
    by_folder = Counter((r[0], r[1]) for r in rows)
    assert by_folder == {
        ("ann@contoso.example", "Inbox"): 10, ("ann@contoso.example", "Inbox/Projects/2026"): 2,
        ("ann@contoso.example", "Sent Items"): 1, ("bob@contoso.example", "Inbox"): 2,
        ("info@contoso.example", "Inbox"): 2,
    }
    # Byte for byte: every archived copy rebuilds to exactly the MIME that /$value served.
    reader = rt.archive_for(org).reader()
    rebuilt = sorted(reader.rebuild(r[4], r[5], r[3]) for r in rows)
    assert rebuilt == sorted(m for ms in sent.values() for m in ms)
    assert {r[2] for r in rows} == {m.id for u in tenant.users.values() for m in u.messages.values()} - {
        m.id for m in tenant.user("room1").messages.values()}
    # ann's 13 came in delta pages of 4 (Inbox: 4, 4, 2; 2026: 2; Sent Items: 1) and were archived in
    # batches of 4 messages, the last one closed by the end of her mailbox: four ledger rows.
    ann_rows = [x for x in ledger(rt) if x["mailbox"] == "ann@contoso.example"]
    assert [x["archived"] for x in ann_rows] == [4, 4, 4, 1]
    with rt.session() as s:
        kinds = {m.primary_address: m.kind for m in s.scalars(select(Mailbox))}
        assert kinds == {"ann@contoso.example": "user", "bob@contoso.example": "user", "info@contoso.example": "shared"}
        cursors = sources.get_cursors(s, profile)
        assert len(cursors) == 3 * 4 + 2  # 4 standard folders per mailbox + Projects and 2026
        assert all(c["complete"] and "$deltatoken=" in c["link"] for c in cursors.values())
        p = sources.profile_by_id(s, profile)
        assert p.last_status == "ok" and p.last_error is None
    assert tenant.count(contains="/$value") == 17


def test_second_run_fetches_only_what_is_new_and_keeps_what_was_deleted(rt, org, graph: GraphServer, tenant: Tenant,
                                                                        profile: str, corpus: Path) -> None:
    populate(tenant, corpus)
    assert sync_profile(rt, profile).counts.archived == 17
    ann = tenant.user("ann")
    inbox = [m.id for m in ann.messages.values() if m.folder_id == ann.well_known["inbox"]]
    fresh = corpus_messages(corpus, 2, skip=40)
    for raw in fresh:
        tenant.add_message(ann, "inbox", raw)
    tenant.mark_read(ann, inbox[0])  # changed, not new: not fetched again
    archive = tenant.add_folder(ann, "Archive")
    tenant.move_message(ann, inbox[1], archive.id)  # moved: the archive records it in its new folder
    deleted_raw = ann.messages[inbox[2]].raw
    tenant.delete_message(ann, inbox[2])  # deleted in Microsoft 365: stays archived
    before = tenant.count(contains="/$value")

    res = sync_profile(rt, profile)
    assert res.status == "ok", res.error
    assert tenant.count(contains="/$value") - before == 3  # the 2 new ones and the moved one
    assert (res.counts.archived, res.counts.duplicates, res.unchanged) == (3, 0, 1)
    assert res.removed_in_source == 2  # the moved and the deleted message left the Inbox
    rows = items(rt, "i.mailbox = ?", ["ann@contoso.example"])
    assert ("ann@contoso.example", "Archive", inbox[1]) in {r[:3] for r in rows}
    assert ("ann@contoso.example", "Inbox", inbox[1]) in {r[:3] for r in rows}  # where it was, kept
    assert hashlib.sha256(deleted_raw).hexdigest() in {r[3] for r in rows}

    # A third run with nothing new fetches no message at all.
    before = tenant.count(contains="/$value")
    res = sync_profile(rt, profile)
    assert res.status == "ok" and res.counts.seen == 0
    assert tenant.count(contains="/$value") == before


def test_expired_delta_token_resyncs_the_folder_without_storing_twice(rt, org, graph: GraphServer, tenant: Tenant,
                                                                      profile: str, corpus: Path) -> None:
    populate(tenant, corpus)
    assert sync_profile(rt, profile).counts.archived == 17
    copies = len(items(rt))
    tenant.expire_delta_tokens()
    tenant.add_message("bob", "inbox", corpus_messages(corpus, 1, skip=50)[0])

    res = sync_profile(rt, profile)
    assert res.status == "ok", res.error
    assert res.resyncs == 14  # every folder's token was gone: 410 syncStateNotFound
    assert tenant.count(status=410) == 14
    assert res.counts.archived == 1 and res.counts.duplicates == 17
    rows = items(rt)
    assert len(rows) == copies + 1
    assert len({(r[0], r[1], r[3]) for r in rows}) == len(rows)  # no copy twice
    dup_rows = [x for x in ledger(rt)[-20:] if x["duplicates"]]
    assert sum(x["duplicates"] for x in dup_rows) == 17  # the ledger says what the resync saw again
    # After the resync the folders are incremental again.
    before = tenant.count(contains="/$value")
    assert sync_profile(rt, profile).counts.seen == 0
    assert tenant.count(contains="/$value") == before


def test_throttling_429_and_503_wait_retry_after_and_lose_nothing(rt, org, graph: GraphServer, tenant: Tenant,
                                                                  profile: str, corpus: Path) -> None:
    populate(tenant, corpus)
    tenant.throttle(429, retry_after=1, times=2, match="/$value")
    tenant.throttle(503, retry_after=1, times=1, match="/messages/delta")
    tenant.throttle(503, retry_after=None, times=1, match="/mailboxSettings")  # no Retry-After: backoff
    res = sync_profile(rt, profile)
    assert res.status == "ok", res.error
    assert res.counts.archived == 17
    assert tenant.count(status=429) == 2 and tenant.count(status=503) == 2
    # Retry-After: 1 capped at the configured 0.3 s; the one without Retry-After backs off from 0.02 s.
    assert sorted(res.waits) == [0.02, 0.3, 0.3, 0.3]
    with rt.session() as s:
        assert json.loads(sources.profile_by_id(s, profile).last_counts)["waited_seconds"] == 0.92


def test_licence_refusing_a_mailbox_is_reported_and_the_others_go_on(rt, graph: GraphServer, tenant: Tenant,
                                                                     corpus: Path) -> None:
    from mailark.control import sources as cs
    from mailark.control.orgs import create_org
    from mailark.control.principals import Principal

    with rt.session() as s:
        create_org(s, "acme", rt.master_key, users=1, mailboxes_per_user=2)
    with rt.session(write=True) as s:
        pid = cs.create_source(s, Principal.deployment_operator(), "acme", "graph", "m365", graph.profile_config(),
                               {"client_secret": tenant.client_secret}, rt.master_key).id
    populate(tenant, corpus)
    res = sync_profile(rt, pid)
    assert res.status == "partial"
    assert len(res.refused) == 1 and res.refused[0].startswith("info@contoso.example: ")
    assert "mailbox" in res.refused[0]
    assert Counter(r[0] for r in items(rt)) == {"ann@contoso.example": 13, "bob@contoso.example": 2}
    with rt.session() as s:
        p = cs.profile_by_id(s, pid)
        assert p.last_status == "partial" and "info@contoso.example" in p.last_error


def test_a_page_of_large_messages_is_archived_in_parts(rt, org, graph: GraphServer, tenant: Tenant, profile: str,
                                                      corpus: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ann = tenant.add_user("ann")
    for raw in corpus_messages(corpus, 4):
        tenant.add_message(ann, "inbox", raw)
    rt.settings.batch_bytes = 1  # every message alone reaches the batch size
    res = sync_profile(rt, profile)
    assert res.status == "ok" and res.counts.archived == 4
    assert [x["archived"] for x in ledger(rt)] == [1, 1, 1, 1]
    with rt.session() as s:
        assert sources.get_cursors(s, profile)[f"folder:{ann.id}:{ann.well_known['inbox']}"]["complete"]


def test_a_delta_token_refused_with_400_sync_state_not_found_also_resyncs(rt, org, graph: GraphServer, tenant: Tenant,
                                                                           profile: str, corpus: Path) -> None:
    ann = tenant.add_user("ann")
    msgs = corpus_messages(corpus, 3)
    for raw in msgs[:2]:
        tenant.add_message(ann, "inbox", raw)
    assert sync_profile(rt, profile).counts.archived == 2
    tenant.delta_expired_status = 400
    tenant.expire_delta_tokens()
    tenant.add_message(ann, "inbox", msgs[2])
    res = sync_profile(rt, profile)
    assert res.status == "ok" and res.resyncs == 4 and tenant.count(status=400) == 4
    assert (res.counts.archived, res.counts.duplicates) == (1, 2)
    assert len(items(rt)) == 3
