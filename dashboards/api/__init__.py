"""Routers of the REST API, one module per resource; `routers()` lists them for the app factory."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from dashboards.api import (
        aliases, audit, auth, deletions, directory, domains, groups, licence, mailboxes, orgs, permissions, roles, sources, users, warnings,
    )

    return [m.router for m in (auth, orgs, licence, warnings, domains, users, groups, roles, mailboxes, aliases,
                               permissions, sources, deletions, directory, audit)] + _reading()


def _reading() -> list[APIRouter]:
    from dashboards.api import messages, search  # reading archived mail and full-text search

    return [messages.router, search.router]
