"""Domains of an organization (Admin): local or global; one organization per domain."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import Field

from mailark.control import identity
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import DomainIn, DomainOut, OkOut
from mailark.dashboards.deps import DB, Acting

router = APIRouter(prefix=ORG_PATH + "/domains", tags=["domains"])


def _out(d: object) -> DomainOut:
    return DomainOut(name=d.name, kind=d.kind, is_default=d.is_default)  # type: ignore[attr-defined]


@router.get("", response_model=list[DomainOut], responses=ERRORS, summary="The organization's domains")
def list_(org: str, p: Acting, s: DB) -> list[DomainOut]:
    return [_out(d) for d in identity.list_domains(s, p, org)]


@router.post("", response_model=DomainOut, status_code=status.HTTP_201_CREATED, responses=ERRORS, summary="Add a domain")
def add(org: str, body: DomainIn, p: Acting, s: DB) -> DomainOut:
    return _out(identity.add_domain(s, p, org, body.name, body.kind))


class DomainRemovedOut(OkOut):
    domain: str
    sources_removed: list[str] = Field(description="Sources that served the domain, removed with it")
    sources_disabled: list[str] = Field(description="Sources that fill an archive mailbox with an address in the "
                                               "domain, disabled so that its mail is no longer archived here")


@router.delete("/{domain}", response_model=DomainRemovedOut, responses=ERRORS,
               summary="Remove a domain (not the default one, not while users log in with it)")
def remove(org: str, domain: str, p: Acting, s: DB) -> DomainRemovedOut:
    r = identity.remove_domain(s, p, org, domain)
    return DomainRemovedOut(domain=r.domain, sources_removed=r.sources_removed, sources_disabled=r.sources_disabled)
