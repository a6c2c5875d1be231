"""The mirror's rules without a server: folder reconciliation, chunk planning, configuration."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mailark.catalog.folders import ArchivedItem
from mailark.sources.imap.client import FolderStatus, MessageInfo, _message_id
from mailark.sources.imap.config import ImapConfig
from mailark.sources.imap.plan import batches, cursor_value, plan_chunk, position, reconcile


def st(name: str, v: int, nxt: int = 10, fid: str | None = None) -> FolderStatus:
    return FolderStatus(name, name, v, nxt, nxt - 1, None, fid)


def test_reconcile_without_ids_takes_a_unique_uidvalidity_match_as_rename() -> None:
    a = "ann@acme"
    cursors = {f"{a}|name:Old": cursor_value(st("Old", 7), 9), f"{a}|name:Gone": cursor_value(st("Gone", 8), 3),
               f"{a}|name:INBOX": cursor_value(st("INBOX", 1), 9), "bob@acme|name:X": cursor_value(st("X", 7), 1)}
    plan = reconcile(a, cursors, [st("INBOX", 1), st("New", 7), st("Fresh", 9)])
    by = {w.status.name: w for w in plan.folders}
    assert by["New"].renamed_from == "Old" and by["New"].last_uid == 9 and by["New"].key == f"{a}|name:New"
    assert by["INBOX"].unchanged and by["INBOX"].renamed_from is None
    assert by["Fresh"].cursor is None and by["Fresh"].last_uid == 0
    assert set(plan.gone) == {f"{a}|name:Old", f"{a}|name:Gone"}  # bob's cursors are not ann's business


def test_reconcile_ambiguous_uidvalidity_is_not_a_rename() -> None:
    a = "ann@acme"
    cursors = {f"{a}|name:Old": cursor_value(st("Old", 7), 9)}
    plan = reconcile(a, cursors, [st("New1", 7), st("New2", 7)])
    assert all(w.renamed_from is None and w.cursor is None for w in plan.folders)


def test_reconcile_with_ids_follows_the_id_and_sees_uidvalidity_changes() -> None:
    a = "ann@acme"
    cursors = {f"{a}|id:F1": cursor_value(st("Work", 5, fid="F1"), 9)}
    plan = reconcile(a, cursors, [st("Archive/Work", 6, fid="F1")])
    (w,) = plan.folders
    assert w.renamed_from == "Work" and w.uidvalidity_changed and w.last_uid == 0 and not plan.gone


def _info(uid: int, size: int = 100, eid: str | None = None, mid: str | None = None, hk: str | None = None) -> MessageInfo:
    return MessageInfo(uid, size, None, eid, mid, hk)


def _item(iid: str, folder: str, pos: str, size: int = 100, mid: str | None = None) -> ArchivedItem:
    return ArchivedItem(iid, folder, pos, size, mid)


def test_plan_chunk_known_moved_and_new() -> None:
    found = [
        _item("i1", "INBOX", position(1, 1, "E1", "h1")),  # same id, here: known
        _item("i2", "Other", position(2, 4, None, "h2")),  # header key elsewhere: maybe moved
        _item("i3", "INBOX", position(1, 3, None, None), size=50, mid="<m3>"),  # Message-ID + size, here
    ]
    infos = [_info(10, eid="E1", hk="h1"), _info(11, hk="h2"), _info(12, size=50, mid="<m3>"),
             _info(13, size=51, mid="<m3>"), _info(14, hk="h2")]
    plan = plan_chunk(infos, "INBOX", 5, found)
    assert [i.uid for i in plan.known] == [10, 12]
    assert plan.positions == {"i1": position(5, 10, "E1", "h1"), "i3": position(5, 12, None, None)}
    assert [(i.uid, [m.item_id for m in ms]) for i, ms in plan.maybe_moved] == [(11, ["i2"]), (14, ["i2"])]
    assert [i.uid for i in plan.fetch] == [13]  # same Message-ID, other size: another message


def test_batches_bound_count_and_bytes() -> None:
    infos = [_info(i, size=s) for i, s in enumerate([10, 10, 10, 500, 10, 10])]
    assert [[i.uid for i in b] for b in batches(infos, 2, 100)] == [[0, 1], [2], [3], [4, 5]]


def test_message_id_parsing() -> None:
    assert _message_id(b"Message-Id:\r\n <a@b>\r\n\r\n") == "<a@b>"
    assert _message_id(b"\r\n") is None


def test_config_rules() -> None:
    base = {"host": "imap.example.com", "username": "ann", "mailbox": "ann@acme"}
    c = ImapConfig.model_validate({**base, "include": ["INBOX", "Work/*"], "exclude": ["Work/Spam"]})
    assert c.resolved_port == 993 and c.login_for(None) == "ann"
    assert c.wants("INBOX") and c.wants("inbox") and c.wants("Work/A") and not c.wants("Work/Spam") and not c.wants("Junk")
    assert ImapConfig.model_validate({**base, "security": "starttls"}).resolved_port == 143
    s = ImapConfig.model_validate({"host": "h", "username": "master", "mode": "server", "accounts": ["a@x"]})
    assert s.login_for("a@x") == "a@x*master"
    for bad in ({**base, "mailbox": None}, {**base, "host": "imaps://x/"}, {**base, "security": "tls"},
                {"host": "h", "username": "m", "mode": "server"}, {**base, "password": "x"}):
        with pytest.raises(ValidationError):
            ImapConfig.model_validate(bad)
    # What is stored holds no secret and round-trips.
    assert ImapConfig.model_validate(c.public()) == c
