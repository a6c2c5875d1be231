"""Sending first-login invitations through the deployment's SMTP relay (settings `mail.*`).

The e-mail carries the one-time set-password link (control.invitations), never a password. A relay
that is not configured or refuses the mail is reported in words the admin can act on; the user
exists all the same and can be invited again.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy.orm import Session

from mailark.config.settings import Settings
from mailark.control.invitations import Invitation, issue
from mailark.control.models import User
from mailark.control.orgs import ControlError
from mailark.control.principals import Principal


def invitation_link(settings: Settings, inv: Invitation) -> str:
    return f"{settings.mail.link_base_url.rstrip('/')}/set-password?token={inv.token}"


def compose(settings: Settings, inv: Invitation) -> EmailMessage:
    m = EmailMessage()
    m["From"] = settings.mail.from_
    m["To"] = inv.sent_to
    m["Subject"] = f"Your mail archive account {inv.login}"
    m["Date"] = formatdate(localtime=False)
    m["Message-ID"] = make_msgid(domain=settings.mail.from_.rsplit("@", 1)[-1] or "mailark")
    m.set_content(
        f"An account of the mail archive was created for you (organization {inv.org}).\n\n"
        f"Your login: {inv.login}\n\n"
        f"Choose your password here (the link works once, until {inv.expires_at:%Y-%m-%d %H:%M} UTC):\n"
        f"{invitation_link(settings, inv)}\n\n"
        f"If the link has expired, ask your administrator for a new invitation.\n")
    return m


def invite_user(session: Session, principal: Principal, settings: Settings, user: User, to: str | None = None) -> str:
    """Issue a set-password link for `user` and send it, inside the caller's transaction (a failure rolls the
    caller's change back with it); returns the address it went to."""
    inv = issue(session, principal, user, to)
    send_invitation(settings, inv)
    return inv.sent_to


def send_invitation(settings: Settings, inv: Invitation) -> None:
    """Hand the invitation to the relay; ControlError (what happened, what to do) if it cannot."""
    mail = settings.mail
    if not mail.relay_host:
        raise ControlError("no SMTP relay is configured for invitations, so nothing was created: set mail.relay_host "
                           "(MAILARK_MAIL__RELAY_HOST) and mail.from, or create it without an invitation (a one-time "
                           "password is shown then)")
    try:
        with smtplib.SMTP(mail.relay_host, mail.relay_port, timeout=mail.timeout_seconds) as c:
            c.ehlo()
            if mail.starttls:
                c.starttls(context=ssl.create_default_context())
                c.ehlo()
            if mail.username:
                c.login(mail.username, mail.password.get_secret_value() if mail.password else "")
            c.send_message(compose(settings, inv))
    except (OSError, smtplib.SMTPException) as e:
        raise ControlError(f"the invitation to {inv.sent_to} could not be sent through the relay "
                           f"{mail.relay_host}:{mail.relay_port} ({e}), so nothing was created; check the relay settings "
                           f"(mail.*) and try again, or create it without an invitation (a one-time password is "
                           f"shown then)") from None
