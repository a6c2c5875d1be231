"""Pieces shared by the routers: documented error responses and row-to-model helpers."""

from __future__ import annotations

from typing import Any

from mailark.dashboards.api.models import ErrorOut, OrgOut

_E = {"model": ErrorOut}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_E, "description": "invalid value (the message says which)"},
    401: {**_E, "description": "not logged in, or the token/session is not valid"},
    403: {**_E, "description": "your role does not allow this, or a CSRF header is missing"},
    404: {**_E, "description": "no such thing (or it belongs to an organization you cannot see)"},
    409: {**_E, "description": "conflicts with what exists, or the licence is full"},
    422: {**_E, "description": "the request body or parameters do not match the schema"},
}
ORG_PATH = "/api/orgs/{org}"


def org_out(o: Any) -> OrgOut:
    return OrgOut(name=o.name, created_at=o.created_at, mfa_required=bool(o.mfa_required),
                  readers_by_default=bool(o.readers_by_default))
