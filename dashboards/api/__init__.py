"""Routers of the REST API, one module per resource; `routers()` lists them for the app factory."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from mailark.dashboards.api import (
        aliases, audit, auth, deletions, directory, domains, exports, groups, health, licence, mailboxes, messages, orgs,
        permissions, restores, retention, roles, search, sign_in, sources, support, tokens, usage, users, warnings,
    )

    return [m.router for m in (auth, orgs, licence, warnings, domains, users, groups, roles, mailboxes, aliases,
                               permissions, sources, deletions, retention, directory, exports, usage, messages, search,
                               restores, audit, tokens, support, sign_in, health)]
