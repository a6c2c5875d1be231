"""Who is acting: an identity only (no roles, no database), so that a caller that needs nothing more
(the CLI's quick search, mailark.cli.search_query) does not import the control plane's models.
What a principal may do is control.principals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["user", "operator", "system"]


@dataclass(frozen=True)
class Principal:
    kind: Kind
    id: str
    login: str
    org_id: str | None = None  # users only
    org_ids: frozenset[str] | None = None  # operators limited to these organizations; None = all

    @classmethod
    def deployment_operator(cls) -> Principal:
        """The CLI on the server: every organization, every role (its reads are audited all the same)."""
        return cls("system", "system", "deployment-operator")

    @property
    def is_operator(self) -> bool:
        return self.kind in ("operator", "system")

    @property
    def is_deployment(self) -> bool:
        """The local deployment operator (the CLI on the server): it holds the master key, so everything."""
        return self.kind == "system"

    @property
    def is_unrestricted_operator(self) -> bool:
        return self.is_operator and self.org_ids is None


def can_see_org(principal: Principal, org_id: str) -> bool:
    if principal.kind == "user":
        return principal.org_id == org_id
    return principal.org_ids is None or org_id in principal.org_ids
