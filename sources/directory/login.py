"""Directory logins: a synced user's password is checked by the directory (an LDAP bind as the user's DN).

Passed to control.auth.login (by the web app and the API) for users a directory profile manages, so throttling, lockout, TOTP and
the audit log apply exactly as for local passwords. The local password hash of a synced user is
never used. A directory that cannot be reached gives a clear error (and is not counted as a failed
guess); a profile that does not allow directory logins refuses every password.
"""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from mailark.control.auth import DirectoryUnavailable
from mailark.control.models import DirectoryProfile, User
from mailark.sources.directory.ldap import check_password
from mailark.sources.errors import SourceError


def check_directory_password(session: Session, user: User, password: str) -> tuple[bool, str]:
    """(accepted, reason for the audit log when not)."""
    p = session.get(DirectoryProfile, user.directory_profile_id)
    if p is None:
        return False, "directory profile removed"
    config = json.loads(p.config)
    if p.kind != "ldap" or not config.get("directory_login"):
        return False, f"directory logins are off for directory profile {p.name!r}"
    if not user.directory_dn:
        return False, "no directory entry known for this user yet (sync the directory)"
    try:
        ok = check_password(config, user.directory_dn, password)
    except SourceError:
        raise DirectoryUnavailable(
            "the directory that checks your password cannot be reached right now: try again in a few minutes; "
            "if it goes on, tell your administrator") from None
    return ok, "" if ok else "wrong password (refused by the directory)"
