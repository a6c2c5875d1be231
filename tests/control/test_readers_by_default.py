"""Issue 14, section 3: the Reader role means something. An organization may choose that only users given
Reader (directly or through a group) read their own and granted mailboxes; every user is a Reader by
rule by default, so nothing changes for existing organizations."""

from __future__ import annotations

from sqlalchemy import select

from mailark.control import identity as idn
from mailark.control import mailboxes as mbx
from mailark.control.models import AuditEvent, User
from mailark.control.principals import READER, user_principal


def test_only_readers_read_when_the_organization_says_so(rt, tenant, op) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        idn.create_user(s, tenant.admin, "acme", "ann@acme")
        idn.create_user(s, tenant.admin, "acme", "bob@acme")
        ann_box = mbx.create_mailbox(s, tenant.admin, "acme", "ann@acme", owner="ann@acme").id
        bob_box = mbx.create_mailbox(s, tenant.admin, "acme", "bob@acme", owner="bob@acme").id

    def reads(login: str) -> set[str]:
        with rt.control() as s:
            user = s.scalar(select(User).where(User.login == login))
            return mbx.readable_mailbox_ids(s, user_principal(user), "acme")

    assert reads("ann@acme") == {ann_box} and reads("bob@acme") == {bob_box}  # the default: every user
    with rt.session() as s:
        idn.set_readers_by_default(s, tenant.admin, "acme", False)
        idn.create_group(s, tenant.admin, "acme", "readers")
        idn.add_member(s, tenant.admin, "acme", "readers", "bob@acme")
        idn.assign_role(s, tenant.admin, "acme", READER, group="readers")
    assert reads("ann@acme") == set()  # granted her own mailbox, but not a Reader
    assert reads("bob@acme") == {bob_box}  # a Reader through the group
    with rt.session() as s:
        idn.set_readers_by_default(s, tenant.admin, "acme", True)
        assert s.scalars(select(AuditEvent.details).where(AuditEvent.action == "org.readers_by_default")).all()
    assert reads("ann@acme") == {ann_box}
