"""What a directory says, independent of where it came from (LDAP, Active Directory, Microsoft 365).

Readers produce a `DirectorySnapshot`; the sync rules (control plane) compare it with what the
archive holds. `external_id` is the directory's stable id (objectGUID, entryUUID, Graph id), so a
renamed user stays the same user.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DirectoryUser:
    external_id: str
    login: str  # name@domain the user logs in with (userPrincipalName, mail or uid@domain)
    primary_address: str  # primary SMTP address: the archive mailbox's primary address
    aliases: tuple[str, ...] = ()  # secondary SMTP addresses (proxyAddresses smtp:, alias attribute)
    display_name: str | None = None
    enabled: bool = True
    kind: str = "user"  # user | shared (a Microsoft 365 shared mailbox: no licence, no login)
    dn: str | None = None  # LDAP distinguished name, for binds and memberOf


@dataclass(frozen=True)
class DirectoryGroup:
    external_id: str
    name: str
    member_ids: tuple[str, ...] = ()  # external ids of member users


@dataclass
class DirectorySnapshot:
    users: list[DirectoryUser] = field(default_factory=list)
    groups: list[DirectoryGroup] = field(default_factory=list)
    # Entries the reader had to leave out, each in words (e.g. "uid=x,...: no mail address"); the sync reports them.
    problems: list[str] = field(default_factory=list)
