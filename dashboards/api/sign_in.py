"""The organization's sign-in provider (Admin): Microsoft (Entra ID) or a generic OpenID Connect provider.

One per organization; PUT creates or replaces it. The client secret goes in and never comes out
(left out of a PUT, the stored one stays). The sign-in itself is a browser's: /login/sso (pages).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from mailark.control import sign_in
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import OkOut, Strict, Utc
from mailark.dashboards.deps import DB, Acting, Ctx

router = APIRouter(prefix=ORG_PATH + "/sign-in", tags=["sign-in"])


class SignInIn(Strict):
    kind: Literal["entra", "oidc"] = Field(examples=["entra"], description="entra: Microsoft (Entra ID); oidc: any "
                                           "OpenID Connect provider")
    client_id: str = Field(min_length=1, max_length=200, examples=["00000000-0000-0000-0000-000000000002"],
                           description="the application (client) id the provider gave mailark")
    client_secret: str | None = Field(default=None, min_length=1, max_length=1024,
                                      description="the client secret (stored encrypted; left out: keep the stored one)")
    tenant_id: str | None = Field(default=None, max_length=100, examples=["00000000-0000-0000-0000-000000000001"],
                                  description="entra: the tenant (default: the Microsoft 365 directory profile's)")
    issuer: str | None = Field(default=None, max_length=400, examples=["https://accounts.example.com"],
                               description="oidc: the issuer URL; entra: only to override "
                                           "https://login.microsoftonline.com/{tenant}/v2.0")
    allowed_domains: list[str] = Field(default=[], max_length=100, examples=[["acme.example"]],
                                       description="oidc: sign-ins are matched only in these email domains")
    match_claim: Literal["email", "preferred_username", "upn", "login"] | None = Field(
        default=None, examples=["email"], description="oidc: the claim matched to the user's login (default email)")
    display_name: str | None = Field(default=None, max_length=100, examples=["Microsoft"],
                                     description="the login button says 'Sign in with ...'")
    enabled: bool = True


class SignInOut(BaseModel):
    kind: str
    display_name: str
    issuer: str
    client_id: str
    tenant_id: str | None
    allowed_domains: list[str]
    match_claim: str = Field(description="oid (entra: the Entra object id) or the claim matched to the login")
    enabled: bool
    has_secret: bool
    updated_at: Utc
    login_url: str = Field(description="a link that starts the sign-in for this organization (path of the web app)")


def _out(org: str, v: sign_in.ProviderView) -> SignInOut:
    return SignInOut(kind=v.kind, display_name=v.display_name, issuer=v.issuer, client_id=v.client_id,
                     tenant_id=v.tenant_id, allowed_domains=v.allowed_domains, match_claim=v.match_claim,
                     enabled=v.enabled, has_secret=v.has_secret, updated_at=v.updated_at,
                     login_url=f"/login?org={org}")


@router.get("", response_model=SignInOut, responses=ERRORS, summary="The organization's sign-in provider")
def get(org: str, p: Acting, s: DB) -> SignInOut:
    return _out(org, sign_in.get_provider(s, p, org))


@router.put("", response_model=SignInOut, responses=ERRORS,
            summary="Set up sign-in with Microsoft or an OpenID Connect provider (replaces the one there)")
def put(org: str, body: SignInIn, p: Acting, s: DB, ctx: Ctx) -> SignInOut:
    return _out(org, sign_in.set_provider(
        s, p, org, ctx.runtime.master_key, kind=body.kind, client_id=body.client_id, client_secret=body.client_secret,
        issuer=body.issuer, tenant_id=body.tenant_id, allowed_domains=body.allowed_domains,
        match_claim=body.match_claim, display_name=body.display_name, enabled=body.enabled))


@router.delete("", response_model=OkOut, responses=ERRORS,
               summary="Remove the sign-in provider (users log in with their password again)")
def remove(org: str, p: Acting, s: DB) -> OkOut:
    sign_in.remove_provider(s, p, org)
    return OkOut()
