"""OpenID Connect sign-in, the relying party's side: discovery, the authorization request (code flow
with PKCE, state and nonce), the code exchange and the id token's checks.

The id token is trusted only after joserfc verified its signature with a key of the provider's
JWKS (fetched again once when a key id is unknown: providers rotate keys) and its claims: `iss`
is the configured issuer, `aud` holds our client id (and `azp` is it when there are several), `exp`
is in the future, `nonce` is the one we sent. PKCE values, state and nonce come from authlib.
What the claims mean for mailark (which user) is mailark.control.sign_in's business.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from mailark.sources.errors import SourceError

TIMEOUT = 10.0
CACHE_SECONDS = 600
LEEWAY = 120  # seconds of clock difference tolerated on exp/iat
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
SCOPE = "openid email profile"


class SignInError(SourceError):
    """The provider could not be asked, or what it answered does not hold up."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True)
class Endpoints:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_auth_methods: tuple[str, ...]


@dataclass(frozen=True)
class AuthRequest:
    """Where to send the browser, and what to keep (encrypted, in a cookie) until it comes back."""

    url: str
    state: str
    nonce: str
    code_verifier: str


_lock = threading.Lock()
_discovered: dict[str, tuple[float, Endpoints]] = {}
_jwks: dict[str, tuple[float, dict[str, Any]]] = {}


def _get_json(url: str, what: str) -> dict[str, Any]:
    try:
        r = httpx.get(url, timeout=TIMEOUT, follow_redirects=False)
    except httpx.HTTPError:
        raise SignInError(f"the sign-in provider could not be reached ({what}): try again later, or ask your "
                          f"archive admin to check its address") from None
    if r.status_code != 200:
        raise SignInError(f"the sign-in provider answered {r.status_code} to the {what} request: ask your archive "
                          f"admin to check the provider's settings")
    try:
        data = r.json()
    except ValueError:
        raise SignInError(f"the sign-in provider's {what} is not JSON: ask your archive admin to check its issuer URL") from None
    if not isinstance(data, dict):
        raise SignInError(f"the sign-in provider's {what} is not a JSON object")
    return data


def discover(issuer: str) -> Endpoints:
    """The provider's endpoints from `{issuer}/.well-known/openid-configuration` (kept ten minutes)."""
    now = time.monotonic()
    with _lock:
        hit = _discovered.get(issuer)
    if hit and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    doc = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery")
    if str(doc.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise SignInError(f"the provider at {issuer} says its issuer is {doc.get('issuer')!r}: set the issuer URL "
                          f"exactly as the provider names itself")
    try:
        ep = Endpoints(str(doc["issuer"]), str(doc["authorization_endpoint"]), str(doc["token_endpoint"]),
                       str(doc["jwks_uri"]),
                       tuple(doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]))
    except KeyError as e:
        raise SignInError(f"the provider's discovery document lacks {e.args[0]}: it is not an OpenID Connect provider") from None
    with _lock:
        _discovered[issuer] = (now, ep)
    return ep


def begin(ep: Endpoints, client_id: str, redirect_uri: str, *, login_hint: str | None = None) -> AuthRequest:
    """The authorization request: code flow, PKCE (S256), a fresh state and nonce."""
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    params = [("response_type", "code"), ("client_id", client_id), ("redirect_uri", redirect_uri), ("scope", SCOPE),
              ("state", state), ("nonce", nonce), ("code_challenge", create_s256_code_challenge(verifier)),
              ("code_challenge_method", "S256")]
    if login_hint:
        params.append(("login_hint", login_hint))
    return AuthRequest(add_params_to_uri(ep.authorization_endpoint, params), state, nonce, verifier)


def _keys(jwks_uri: str, *, fresh: bool = False) -> KeySet:
    now = time.monotonic()
    with _lock:
        hit = _jwks.get(jwks_uri)
    if fresh or not hit or now - hit[0] >= CACHE_SECONDS:
        data = _get_json(jwks_uri, "signing keys (JWKS)")
        with _lock:
            _jwks[jwks_uri] = hit = (now, data)
    try:
        return KeySet.import_key_set(hit[1])  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        raise SignInError("the provider's signing keys (JWKS) cannot be read") from None


def exchange(ep: Endpoints, client_id: str, client_secret: str | None, redirect_uri: str, code: str,
             code_verifier: str) -> str:
    """The code for tokens at the token endpoint; returns the id token (the access token is not kept)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": code_verifier, "client_id": client_id}
    auth: tuple[str, str] | None = None
    if client_secret:
        if "client_secret_basic" in ep.token_auth_methods or "client_secret_post" not in ep.token_auth_methods:
            auth = (client_id, client_secret)
        else:
            form["client_secret"] = client_secret
    try:
        r = httpx.post(ep.token_endpoint, data=form, auth=auth, timeout=TIMEOUT, headers={"Accept": "application/json"})
    except httpx.HTTPError:
        raise SignInError("the sign-in provider could not be reached to finish the sign-in: try again") from None
    try:
        body = r.json()
    except ValueError:
        body = {}
    if r.status_code != 200 or not isinstance(body, dict) or not body.get("id_token"):
        error = body.get("error") if isinstance(body, dict) else None
        hint = (" (the client id or secret mailark holds is not the provider's: ask your archive admin)"
                if error in ("invalid_client", "unauthorized_client") else "")
        raise SignInError(f"the sign-in provider refused to finish the sign-in ({error or r.status_code}){hint}: "
                          f"start again")
    return str(body["id_token"])


def verify_id_token(ep: Endpoints, client_id: str, id_token: str, nonce: str) -> dict[str, Any]:
    """The id token's claims once its signature (JWKS), iss, aud/azp, exp, iat and nonce hold."""
    def decode(keys: KeySet) -> Any:
        return jwt.decode(id_token, keys, algorithms=ALGORITHMS)

    try:
        try:
            token = decode(_keys(ep.jwks_uri))
        except (JoseError, ValueError):
            token = decode(_keys(ep.jwks_uri, fresh=True))  # perhaps a rotated key: read the set again, once
        jwt.JWTClaimsRegistry(
            leeway=LEEWAY, iss={"essential": True, "value": ep.issuer}, aud={"essential": True, "value": client_id},
            exp={"essential": True}, sub={"essential": True}, nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except (JoseError, ValueError) as e:
        raise SignInError(f"the sign-in provider's answer did not hold up ({type(e).__name__}): start again; if it "
                          f"happens again, ask your archive admin") from None
    claims: dict[str, Any] = dict(token.claims)
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != client_id:
        raise SignInError("the sign-in provider's answer was meant for another application: start again")
    return claims


def finish(ep: Endpoints, client_id: str, client_secret: str | None, redirect_uri: str, code: str,
           code_verifier: str, nonce: str) -> dict[str, Any]:
    """The verified claims of the signed-in person."""
    return verify_id_token(ep, client_id, exchange(ep, client_id, client_secret, redirect_uri, code, code_verifier), nonce)
