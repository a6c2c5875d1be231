"""The directory-sync rules again with the control plane on PostgreSQL (savepoints, the licence row
lock and the last-Admin rule behave per database). Same tests as tests/directory/test_sync_ad.py."""

from __future__ import annotations

from tests.directory.conftest import cheap_argon2, directory, ldap_server  # noqa: F401 - fixtures
from tests.directory.test_sync_ad import (  # noqa: F401 - collected here again, with the PostgreSQL `home`
    tenant,
    test_create_users_groups_mailboxes_and_roles,
    test_deleted_and_disabled_users_removed_or_kept,
    test_licence_overflow_adds_what_fits_and_reports_the_rest,
    test_never_removes_the_last_admin,
    test_rename_alias_changes_and_display_name,
)
