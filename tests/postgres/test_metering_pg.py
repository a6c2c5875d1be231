"""Metering and billing with the control plane AND the DuckLake catalog on PostgreSQL: the
snapshot changes, the lease and the rules behave as on SQLite (the tests are those of tests/metering)."""

from __future__ import annotations

from tests.metering.conftest import cheap_argon2, tenant  # noqa: F401  (fixtures)
from tests.metering.test_billing import test_highest_quota_and_users_held_during_the_month as test_pg_billing_month_maximum  # noqa: F401
from tests.metering.test_metering import (  # noqa: F401
    test_a_second_run_for_the_same_organization_is_skipped as test_pg_lease,
    test_auto_expand_before_full_audited_as_system as test_pg_auto_expand,
    test_deletions_lower_usage_and_exports_count as test_pg_deletions,
    test_first_run_counts_in_full_then_only_what_changed as test_pg_incremental,
    test_warning_at_90_percent_pause_at_100_and_resume as test_pg_pause_resume,
)
