"""Issue 16: a search reads the principal's roles once per request (it read them twice: once for the
readable mailboxes, once for "reads every mailbox"), and a role change in the same session is seen."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, select

from mailark.control import identity as idn
from mailark.control import mailboxes as mbx
from mailark.control.models import User
from mailark.control.principals import COMPLIANCE, user_principal
from mailark.control.reading import readable, reads_every_mailbox


@contextmanager
def role_queries(engine) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "role_assignments" in statement.lower():
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_search_reads_the_roles_once_and_sees_a_change(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        idn.create_user(s, tenant.admin, "acme", "ann@acme")
        box = mbx.create_mailbox(s, tenant.admin, "acme", "ann@acme", owner="ann@acme").id
        mbx.create_mailbox(s, tenant.admin, "acme", "journal@acme")
    with rt.control() as s:
        ann = user_principal(s.scalar(select(User).where(User.login == "ann@acme")))
        engine = s.get_bind()
        with role_queries(engine) as seen:
            o, allowed = readable(s, ann, "acme")
            every = reads_every_mailbox(s, ann, o)
        assert (allowed, every) == ({box}, False)
        assert len(seen) == 1, seen  # what the permission clause needs, read once
        idn.assign_role(s, tenant.admin, "acme", COMPLIANCE, user="ann@acme")  # a change in the same session
        o, allowed = readable(s, ann, "acme")
        assert len(allowed) == 2 and reads_every_mailbox(s, ann, o)
        s.rollback()
