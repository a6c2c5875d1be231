"""`mailark sign-in`: the organization's sign-in provider (Microsoft / Entra ID, or OpenID Connect).

The client secret never goes on the command line (shell history, `ps`): it comes from standard
input (--client-secret-stdin) or MAILARK_SIGN_IN_CLIENT_SECRET; without either, a provider already
set keeps its stored secret. Exit 0 on success, 1 on a refusal.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from typing import Annotated, Any

import typer

from mailark.cli.common import JsonOpt, OrgOpt, act, emit, fail

sign_in_app = typer.Typer(no_args_is_help=True, help="Sign in with Microsoft (Entra ID) or an OpenID Connect provider.")

SECRET_ENV = "MAILARK_SIGN_IN_CLIENT_SECRET"


def register(app: typer.Typer) -> None:
    app.add_typer(sign_in_app, name="sign-in")


def _doc(v: Any, org: str) -> dict[str, Any]:
    d = asdict(v)
    d["updated_at"] = v.updated_at.isoformat()
    d["login_url"] = f"/login?org={org}"
    return d


@sign_in_app.command("set")
def set_(
    org: OrgOpt,
    kind: Annotated[str, typer.Option("--kind", help="entra (Microsoft) or oidc (any OpenID Connect provider).")],
    client_id: Annotated[str, typer.Option("--client-id", help="The application (client) id the provider gave mailark.")],
    issuer: Annotated[str | None, typer.Option("--issuer", help="oidc: the issuer URL (https). entra: only to "
                                               "override https://login.microsoftonline.com/TENANT/v2.0.")] = None,
    tenant_id: Annotated[str | None, typer.Option("--tenant-id", help="entra: the tenant (default: the Microsoft 365 "
                                                  "directory profile's).")] = None,
    allowed_domain: Annotated[list[str] | None, typer.Option("--allowed-domain", help="oidc: match only addresses in "
                                                             "this domain of the organization (repeatable).")] = None,
    match_claim: Annotated[str | None, typer.Option("--match-claim", help="oidc: email (default), preferred_username, "
                                                    "upn or login.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="The login button says 'Sign in with NAME'.")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Set it up without offering it yet.")] = False,
    client_secret_stdin: Annotated[bool, typer.Option("--client-secret-stdin", help="Read the client secret from stdin.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Set up (or replace) how the organization's users sign in with a provider."""
    secret = sys.stdin.readline().rstrip("\r\n") if client_secret_stdin else os.environ.get(SECRET_ENV) or None
    if client_secret_stdin and not secret:
        fail("the client secret on standard input is empty")
    from mailark.control.sign_in import set_provider

    v = act(lambda s, p, rt: _doc(set_provider(
        s, p, org, rt.master_key, kind=kind, client_id=client_id, client_secret=secret, issuer=issuer,
        tenant_id=tenant_id, allowed_domains=allowed_domain, match_claim=match_claim, display_name=name,
        enabled=not disabled), org))
    emit(v, as_json, f"{org}: sign in with {v['display_name']} ({v['issuer']}); users start at {v['login_url']}")


@sign_in_app.command("show")
def show(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """The organization's sign-in provider (never its secret)."""
    from mailark.control.sign_in import get_provider

    v = act(lambda s, p, rt: _doc(get_provider(s, p, org), org))
    emit(v, as_json, "\n".join(f"{k}: {val}" for k, val in v.items()))


@sign_in_app.command("remove")
def remove(org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Remove the provider: users log in with their password again."""
    from mailark.control.sign_in import remove_provider

    act(lambda s, p, rt: remove_provider(s, p, org))
    emit({"ok": True}, as_json, f"{org}: the sign-in provider is removed")
