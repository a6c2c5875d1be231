"""Issue 14, section 6: creating a user or an organization can e-mail a one-time set-password link
(72 h, once; never the password) through the SMTP relay. The relay is a real Postfix (tests/sources/journal/
postfix.py) that relays to a local SMTP sink, where the test reads what a person would receive."""

from __future__ import annotations

import email
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.dashboards.conftest import Server, client, login_token
from tests.dashboards.web_helpers import page_client
from tests.sources.journal.postfix import PostfixUnavailable, start_postfix

LINK = re.compile(r"(http://\S+/set-password\?token=([A-Za-z0-9_-]+))")


class Sink:
    """An SMTP server that keeps what it receives (aiosmtpd), standing in for the recipients' mail server."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.Message] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
                sink.messages.append(email.message_from_bytes(envelope.content))
                return "250 OK"

        from tests.peers import free_port

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def wait(self, to: str, timeout: float = 60.0) -> email.message.Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.messages:
                if m["To"] == to:
                    return m
            time.sleep(0.2)
        raise AssertionError(f"no mail to {to} reached the sink")


@pytest.fixture
def relay(server: Server) -> Iterator[Sink]:
    from mailark.config.settings import MailSettings

    sink = Sink()
    try:
        pf = start_postfix(sink.port, tls=False)
    except PostfixUnavailable as e:
        sink.controller.stop()
        pytest.skip(str(e))
    before = server.settings.mail
    server.settings.mail = MailSettings(relay_host="127.0.0.1", relay_port=pf.port, from_="archive@msp.example",
                                        link_base_url=server.url)
    try:
        yield sink
    finally:
        server.settings.mail = before
        pf.stop()
        sink.controller.stop()


def _body(m: email.message.Message) -> str:
    part = m.get_body(("plain",)) if hasattr(m, "get_body") else m
    return part.get_payload(decode=True).decode()  # type: ignore[union-attr]


def test_user_invited_by_mail_sets_the_password_once(server: Server, make_tenant, relay: Sink) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("inv")
    login = f"newbie@{t.name}"
    with client(server, t.token) as c:
        r = c.post(f"/api/orgs/{t.name}/users", json={"login": login, "send_invite": True,
                                                       "invite_to": "newbie@people.example"})
        assert r.status_code == 201, r.text
        assert r.json()["invite_sent_to"] == "newbie@people.example" and r.json()["one_time_password"] is None
    m = email.message_from_bytes(relay.wait("newbie@people.example").as_bytes(), policy=email.policy.default)
    text = _body(m)
    assert m["From"] == "archive@msp.example" and login in text
    link, token = LINK.search(text).groups()  # type: ignore[union-attr]
    # The token is stored hashed only.
    from sqlalchemy import select

    from mailark.control.models import SetPasswordToken

    with server.rt.session() as s:
        stored = s.scalar(select(SetPasswordToken.token_hash).where(SetPasswordToken.sent_to == "newbie@people.example"))
        assert stored and token not in stored

    with page_client(server) as c:
        page = c.get(link.replace(server.url, ""))
        assert page.status_code == 200 and login in page.text
        r = c.post("/set-password", data={"token": token, "password": "password", "repeat": "password"})
        assert r.status_code == 400 and "too short" in r.text  # the password policy applies
        r = c.post("/set-password", data={"token": token, "password": "a-good-long-secret", "repeat": "a-good-long-secret"})
        assert r.status_code == 303
        # Once only.
        r = c.post("/set-password", data={"token": token, "password": "another-long-secret", "repeat": "another-long-secret"})
        assert r.status_code == 400 and "not valid" in r.text
    assert login_token(server, login, "a-good-long-secret")  # logs in with the password the user chose


def test_invitation_expires_after_72_hours_and_org_create_invites_its_admin(server: Server, operator_token: str,
                                                                            relay: Sink) -> None:
    from mailark.control import invitations
    from mailark.control.orgs import ControlError
    from tests.dashboards.conftest import unique

    name = unique("invorg")
    with client(server, operator_token) as c:
        assert c.post("/api/orgs", json={"name": name, "send_invite": True}).status_code == 400  # where to?
        r = c.post("/api/orgs", json={"name": name, "send_invite": True, "invite_to": "boss@customer.example"})
        assert r.status_code == 201, r.text
        assert r.json()["admin_password"] is None and r.json()["invite_sent_to"] == "boss@customer.example"
    token = LINK.search(_body(relay.wait("boss@customer.example"))).group(2)  # type: ignore[union-attr]
    with server.rt.session() as s:
        assert invitations.login_for(s, token) == f"admin@{name}"
        with pytest.raises(ControlError, match="72 hours"):
            invitations.set_password(s, token, "a-good-long-secret", now=datetime.now(UTC) + timedelta(hours=72, seconds=1))
