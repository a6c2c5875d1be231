"""Restore to mailbox through IMAP against a real Dovecot: APPEND byte for byte, the rules, the audit."""

from __future__ import annotations

import hashlib

import pytest

from mailark.control.orgs import ControlError, Forbidden, NotFound
from mailark.control.principals import Principal, user_principal
from mailark.operations.restore_mail import RestoreRequest, restore_mail
from mailark.sources.imap.sync import sync_profile
from tests.sources.imap.conftest import account_config, append, make_source, new_user


def _person(rt, login: str, roles: tuple[str, ...] = ("Reader",)) -> Principal:  # type: ignore[no-untyped-def]
    """A user of acme whose own archive mailbox is `login` (the Dovecot account of the same name)."""
    from mailark.control.identity import create_user

    with rt.session(write=True) as s:
        nu = create_user(s, Principal.deployment_operator(), "acme", login, password="pw-long-enough-1",
                         with_mailbox=True, roles=roles)
        return user_principal(nu.user)


def _archived(rt, dovecot, user: str, raws: list[bytes], folder: str = "INBOX") -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """Put `raws` on the server, archive the account; item id -> archived bytes (by the archive's SHA-256)."""
    append(dovecot, user, folder, raws)
    pid = make_source(rt, f"mail-{user}", account_config(dovecot, user), {"password": dovecot.users[user]})
    assert sync_profile(rt, pid).status == "ok"
    by_sha = {hashlib.sha256(r).hexdigest(): r for r in raws}
    rows = rt.lake.execute("SELECT item_id, copy_sha256 FROM lake.mailbox_items WHERE mailbox = ? AND folder = ?",
                           [user, folder]).fetchall()
    return {item: by_sha[sha] for item, sha in rows}


def _server_folder(dovecot, user: str, folder: str) -> list[tuple[bytes, tuple[bytes, ...]]]:  # type: ignore[no-untyped-def]
    c = dovecot.client(user)
    try:
        if not c.folder_exists(folder):
            return []
        c.select_folder(folder, readonly=True)
        got = c.fetch(c.search("ALL"), [b"BODY.PEEK[]", b"FLAGS"])
    finally:
        c.logout()
    return [(d[b"BODY[]"], d[b"FLAGS"]) for _, d in sorted(got.items())]


def _audit(rt, action: str = "content.restore") -> list:  # type: ignore[type-arg]
    import json

    from sqlalchemy import select

    from mailark.control.models import AuditEvent

    with rt.session() as s:
        return [(e.actor_login, e.target, e.outcome, json.loads(e.details))
                for e in s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))]


def test_reader_restores_into_own_mailbox_byte_exact(rt, org, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    ann_login = new_user(dovecot)
    ann = _person(rt, ann_login)
    archived = _archived(rt, dovecot, ann_login, messages[:6])
    chosen = sorted(archived)[:3]

    result = restore_mail(rt, ann, "acme", RestoreRequest(item_ids=tuple(chosen)))

    assert (result.status, result.restored, result.target, result.kind) == ("done", 3, ann_login, "imap")
    back = _server_folder(dovecot, ann_login, "Restored")
    assert sorted(raw for raw, _ in back) == sorted(archived[i] for i in chosen)  # byte for byte
    assert all(b"\\Seen" in flags for _, flags in back)
    actor, target, outcome, details = _audit(rt)[-1]
    assert (actor, target, outcome, details["restored"]) == (ann_login, ann_login, "ok", 3)
    assert sorted(details["items"]) == chosen and details["source"] == f"mail-{ann_login}"


def test_a_selection_goes_into_a_nested_folder_created_on_the_way(rt, org, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    ann_login = new_user(dovecot)
    ann = _person(rt, ann_login)
    append(dovecot, ann_login, "INBOX", messages[:2])
    archived = _archived(rt, dovecot, ann_login, messages[2:6], folder="Work/Projects")
    result = restore_mail(rt, ann, "acme", RestoreRequest(mailboxes=(ann_login,), folder="Work",
                                                           into_folder="Restored/Work"))
    assert result.restored == 4 and result.selected == 4
    assert sorted(r for r, _ in _server_folder(dovecot, ann_login, "Restored/Work")) == sorted(archived.values())


def test_reader_restores_only_into_their_own_mailbox_and_only_what_they_read(rt, org, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    ann_login, bob_login = new_user(dovecot), new_user(dovecot)
    ann, _bob = _person(rt, ann_login), _person(rt, bob_login)
    mine = _archived(rt, dovecot, ann_login, messages[:2])
    bobs = _archived(rt, dovecot, bob_login, messages[2:4])
    with pytest.raises(Forbidden, match="only into your own mailbox"):
        restore_mail(rt, ann, "acme", RestoreRequest(item_ids=tuple(mine), target=bob_login))
    with pytest.raises(NotFound):  # bob's mail does not exist for ann
        restore_mail(rt, ann, "acme", RestoreRequest(item_ids=(min(bobs),)))
    with pytest.raises(NotFound):
        restore_mail(rt, ann, "acme", RestoreRequest(mailboxes=(bob_login,)))
    assert _server_folder(dovecot, bob_login, "Restored") == [] == _server_folder(dovecot, ann_login, "Restored")
    assert _audit(rt) == []


def test_compliance_restores_any_mailbox_into_one_they_name(rt, org, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    ann_login, bob_login = new_user(dovecot), new_user(dovecot)
    _person(rt, ann_login), _person(rt, bob_login)
    officer = _person(rt, new_user(dovecot), roles=("Compliance",))
    anns = _archived(rt, dovecot, ann_login, messages[:3])
    _archived(rt, dovecot, bob_login, messages[3:4])
    result = restore_mail(rt, officer, "acme", RestoreRequest(mailboxes=(ann_login,), target=bob_login,
                                                               into_folder="Case 17"))
    assert (result.restored, result.target) == (3, bob_login)
    assert sorted(r for r, _ in _server_folder(dovecot, bob_login, "Case 17")) == sorted(anns.values())
    # Without a target, Compliance without a mailbox of their own is told to name one.
    cleo = Principal.deployment_operator()
    with pytest.raises(ControlError, match="name the target mailbox"):
        restore_mail(rt, cleo, "acme", RestoreRequest(mailboxes=(ann_login,)))


def test_operators_may_not_restore_and_mailboxes_without_a_writing_source_are_refused(rt, org, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.mailboxes import create_mailbox

    ann_login = new_user(dovecot)
    _person(rt, ann_login)
    anns = _archived(rt, dovecot, ann_login, messages[:1])
    msp = Principal("operator", "op1", "msp")
    with pytest.raises(Forbidden, match="MSP operators cannot restore"):
        restore_mail(rt, msp, "acme", RestoreRequest(item_ids=tuple(anns), target=ann_login))
    with rt.session(write=True) as s:
        create_mailbox(s, Principal.deployment_operator(), "acme", "files@acme", kind="shared")
    with pytest.raises(ControlError, match="no IMAP or Microsoft 365 source"):
        restore_mail(rt, Principal.deployment_operator(), "acme", RestoreRequest(item_ids=tuple(anns),
                                                                                 target="files@acme"))


def test_a_server_that_refuses_the_login_ends_failed_and_audited(rt, org, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.sources import update_source

    ann_login = new_user(dovecot)
    ann = _person(rt, ann_login)
    anns = _archived(rt, dovecot, ann_login, messages[:2])
    with rt.session(write=True) as s:
        update_source(s, Principal.deployment_operator(), "acme", f"mail-{ann_login}", rt.master_key,
                      secret={"password": "wrong"})
    result = restore_mail(rt, ann, "acme", RestoreRequest(item_ids=tuple(anns)))
    assert (result.status, result.restored) == ("failed", 0)
    assert "refused the login" in (result.error or "")
    assert _audit(rt)[-1][2] == "failed"


def test_the_cli_restores_a_selection_into_a_named_mailbox(rt, org, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from mailark.cli import app

    ann_login, bob_login = new_user(dovecot), new_user(dovecot)
    _person(rt, ann_login), _person(rt, bob_login)
    anns = _archived(rt, dovecot, ann_login, messages[:3])
    _archived(rt, dovecot, bob_login, messages[3:4])
    r = CliRunner().invoke(app, ["restore-mail", "--org", "acme", "--mailbox", ann_login, "--folder", "INBOX",
                                 "--target", bob_login, "--into-folder", "From Ann", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["status"], doc["restored"], doc["target"]) == ("done", 3, bob_login)
    assert sorted(raw for raw, _ in _server_folder(dovecot, bob_login, "From Ann")) == sorted(anns.values())
    assert _audit(rt)[-1][0] == "deployment-operator"
    r = CliRunner().invoke(app, ["restore-mail", "--org", "acme", "--target", bob_login])
    assert r.exit_code == 1 and "name the messages to restore" in r.output
