"""Metering fixtures: catalogue rows written directly (sizes a test needs without gigabytes of mail)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ulid import ULID

from mailark.catalog.lake import catalog_lane
from tests.control.conftest import cheap_argon2  # noqa: F401  (autouse: tests that create users stay fast)


def add_object(rt, org_id: str, stored: int, kind: str = "part", key: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """One `objects` row, as ingest or export would append it; returns its key."""
    key = key or f"orgs/{org_id}/objects/{ULID()}".lower()
    with catalog_lane(rt.settings, org_id, rt.lake, rt.store):
        rt.lake.execute(
            "INSERT INTO lake.objects (org_id, object_key, kind, plain_size, stored_size, batch_id, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [org_id, key, kind, stored, stored, str(ULID()).lower(), datetime.now(UTC)],
        )
    return key


def delete_object(rt, org_id: str, key: str) -> None:  # type: ignore[no-untyped-def]
    """What a compliance delete or an expired export does to the catalogue."""
    with catalog_lane(rt.settings, org_id, rt.lake, rt.store):
        rt.lake.execute("DELETE FROM lake.objects WHERE org_id = ? AND object_key = ?", [org_id, key])


@pytest.fixture
def tenant(rt):  # type: ignore[no-untyped-def]
    from tests.control.conftest import make_tenant

    return make_tenant(rt, "acme", users=5, storage_gb=10)
