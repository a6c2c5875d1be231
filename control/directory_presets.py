"""Attribute mappings for the directories we know, so that an admin only names the server.

A profile's config is a preset's defaults with the admin's overrides on top (control.directory_profiles
stores the merged result, so `mailark directory show` tells exactly what is read).

- `ad` (Active Directory): login = userPrincipalName, primary address = the `SMTP:` entry of
  proxyAddresses (else `mail`), aliases = the `smtp:` entries, groups from the users' memberOf,
  disabled = userAccountControl bit 2 (ACCOUNTDISABLE), stable id = objectGUID.
- `ldap` (generic, inetOrgPerson): login = mail, aliases = mailAlternateAddress, groups from
  groupOfNames `member` (DNs) and posixGroup `memberUid` (uids), stable id = entryUUID.
- `m365` (Microsoft 365 via Graph, app-only): no attributes to map; sources.graph.directory reads it.
"""

from __future__ import annotations

from typing import Any

LDAP_PRESETS: dict[str, dict[str, Any]] = {
    "ad": {
        "user_filter": "(&(objectClass=user)(!(objectClass=computer)))",
        "group_filter": "(objectClass=group)",
        "attributes": {
            "external_id": "objectGUID",
            "login": "userPrincipalName",
            "mail": "mail",
            "aliases": "proxyAddresses",
            "display_name": "displayName",
            "uid": "sAMAccountName",
            "member_of": "memberOf",
            "group_name": "cn",
            "group_external_id": "objectGUID",
            "group_members": "member",
            "group_member_uids": None,
            "disabled": "userAccountControl",
        },
        "aliases_style": "proxy",  # SMTP:primary, smtp:alias (other types such as x500: are ignored)
        "disabled_style": "uac",  # integer with bit 2 (ACCOUNTDISABLE)
        "login_domain": None,
    },
    "ldap": {
        "user_filter": "(objectClass=inetOrgPerson)",
        "group_filter": "(|(objectClass=groupOfNames)(objectClass=posixGroup))",
        "attributes": {
            "external_id": "entryUUID",
            "login": "mail",
            "mail": "mail",
            "aliases": "mailAlternateAddress",
            "display_name": "cn",
            "uid": "uid",
            "member_of": None,
            "group_name": "cn",
            "group_external_id": "entryUUID",
            "group_members": "member",
            "group_member_uids": "memberUid",
            "disabled": None,
        },
        "aliases_style": "plain",  # every value is an alias address
        "disabled_style": "none",  # none | uac | present (the attribute's presence disables, e.g. pwdAccountLockedTime)
        "login_domain": None,  # set with login = uid: the login becomes uid@login_domain
    },
}

PRESETS = (*LDAP_PRESETS, "m365")
SECURITY = ("starttls", "ldaps", "none")


def ldap_config(preset: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The preset's mapping with the admin's overrides on top (attributes merged key by key)."""
    if preset not in LDAP_PRESETS:
        raise ValueError(f"unknown LDAP preset {preset!r}: use one of {', '.join(LDAP_PRESETS)}")
    base = LDAP_PRESETS[preset]
    out: dict[str, Any] = {**base, "preset": preset, "attributes": dict(base["attributes"])}
    for k, v in overrides.items():
        if v is None:
            continue
        if k == "attributes":
            out["attributes"].update(v)
        else:
            out[k] = v
    return out
