"""Mail source profiles of an organization (Admin). Credentials are write-only: never returned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from mailark.control import notices
from mailark.control import sources as src
from mailark.control.orgs import ControlError
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import OkOut
from mailark.dashboards.deps import DB, Acting, Ctx
from mailark.sources import kinds
from mailark.sources.errors import SourceError
from mailark.sources.journal.profiles import (
    DEFAULT_IMPORT_FOLDER, IMPORT, JOURNAL, add_import, add_journal, check_senders,
)

router = APIRouter(prefix=ORG_PATH + "/sources", tags=["sources"])


class SourceIn(BaseModel):
    kind: str = Field(description="imap, graph, journal or smtp-import", examples=["journal"])
    name: str = Field(min_length=1, max_length=100, examples=["journal"])
    domain: str | None = Field(default=None, description="the organization's mail domain it serves (removed with it)")
    config: dict[str, Any] = Field(default_factory=dict, description="settings of the kind, without secrets")
    secret: dict[str, str] | None = Field(default=None, description="credentials; stored encrypted, never returned")
    interval_seconds: int = Field(default=900, ge=60)
    enabled: bool = True


class SourcePatch(BaseModel):
    config: dict[str, Any] | None = None
    secret: dict[str, str] | None = None
    interval_seconds: int | None = Field(default=None, ge=60)
    enabled: bool | None = None


class SourceOut(BaseModel):
    kind: str
    name: str
    domain: str | None
    config: dict[str, Any]
    has_secret: bool
    interval_seconds: int
    enabled: bool
    paused_reason: str | None
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_status: str | None
    last_error: str | None
    last_counts: dict[str, Any] | None
    generated_password: str | None = Field(
        default=None, description="the SMTP AUTH password made for a new journal or import address: shown once")
    paused_code: str | None = Field(default=None, description="paused_reason's code; its parameters in paused_params")
    paused_params: dict[str, Any] | None = None


class ProbeOut(BaseModel):
    ok: bool
    message: str


def _valid(kind: str, config: dict[str, Any]) -> None:
    try:
        kinds.validate_config(kind, config)
    except SourceError as e:
        raise ControlError(str(e)) from None


def _out(v: src.SourceView) -> SourceOut:
    d = v.as_dict()
    n = notices.recognize(d.get("paused_reason"))
    return SourceOut(**{k: d[k] for k in SourceOut.model_fields if k in d},
                     **({"paused_code": n.code, "paused_params": n.params} if n else {}))


@router.get("", response_model=list[SourceOut], responses=ERRORS, summary="The organization's mail sources")
def list_(org: str, p: Acting, s: DB) -> list[SourceOut]:
    return [_out(v) for v in src.list_sources(s, p, org)]


@router.post("", response_model=SourceOut, status_code=status.HTTP_201_CREATED, responses=ERRORS,
             summary="Add a mail source")
def add(org: str, body: SourceIn, p: Acting, s: DB, ctx: Ctx) -> SourceOut:
    master = ctx.runtime.master_key
    if body.kind in (JOURNAL, IMPORT):
        # Endpoint addresses: unique on the deployment, their mailbox made now, a password generated.
        c, secret = body.config, body.secret or {}
        domain = ctx.runtime.settings.journal.domain
        if body.kind == JOURNAL:
            view, password = add_journal(s, p, org, master, domain, name=body.name, address=c.get("address"),
                                         auth_required=bool(c.get("auth_required")), password=secret.get("password"),
                                         allow_networks=c.get("allow_networks"),
                                         allow_any_sender=bool(c.get("allow_any_sender")))
        else:
            if not c.get("mailbox"):
                raise ControlError("an SMTP import needs config.mailbox: the archive mailbox it fills")
            view, password = add_import(s, p, org, master, domain, name=body.name, mailbox=str(c["mailbox"]),
                                        address=c.get("address"), folder=str(c.get("folder") or DEFAULT_IMPORT_FOLDER),
                                        password=secret.get("password"))
        out = _out(view)
        out.generated_password = password if password and password != secret.get("password") else None
        return out
    _valid(body.kind, body.config)
    return _out(src.create_source(s, p, org, body.kind, body.name, body.config, body.secret, master,
                                  interval_seconds=body.interval_seconds, enabled=body.enabled, domain=body.domain))


@router.get("/{source}", response_model=SourceOut, responses=ERRORS, summary="One mail source and its last run")
def get(org: str, source: str, p: Acting, s: DB) -> SourceOut:
    return _out(src.get_source(s, p, org, source))


@router.patch("/{source}", response_model=SourceOut, responses=ERRORS, summary="Change a mail source")
def change(org: str, source: str, body: SourcePatch, p: Acting, s: DB, ctx: Ctx) -> SourceOut:
    current = src.get_source(s, p, org, source)
    kind = current.kind
    if body.config is not None:
        _valid(kind, body.config)
        if kind == JOURNAL:
            body.config = check_senders({**current.config, **body.config})
    if kind in (JOURNAL, IMPORT) and body.secret is not None and len(body.secret.get("password") or "") < 12:
        raise ControlError("an SMTP password needs at least 12 characters")
    return _out(src.update_source(s, p, org, source, ctx.runtime.master_key, config=body.config, secret=body.secret,
                                  interval_seconds=body.interval_seconds, enabled=body.enabled))


@router.delete("/{source}", response_model=OkOut, responses=ERRORS,
               summary="Remove a mail source (what it archived stays archived)")
def remove(org: str, source: str, p: Acting, s: DB) -> OkOut:
    src.remove_source(s, p, org, source)
    return OkOut()


@router.post("/{source}/test", response_model=ProbeOut, responses=ERRORS,
             summary="Test connection and credentials of a mail source")
def test(org: str, source: str, p: Acting, s: DB, ctx: Ctx) -> ProbeOut:
    ok, message = kinds.test_source(s, p, org, source, ctx.runtime.master_key)
    return ProbeOut(ok=ok, message=message)
