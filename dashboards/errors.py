"""Control-plane refusals as JSON a person can read: `{"error": "..."}` with the fitting status.

Services raise `control.orgs.ControlError` subclasses; this module is the only place that maps them
to HTTP, so every route answers the same way (and the CLI shows the same sentences). A damaged
catalogue file, a full disk or an I/O error answers 503 with the sentence of
`mailark.operations.failures.explain` (the operator's log has the details).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mailark.control.orgs import AuthFailed, Conflict, ControlError, Forbidden, LimitExceeded, NotFound
from mailark.operations.failures import explain

log = logging.getLogger("mailark.web")

STATUS: tuple[tuple[type[ControlError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (LimitExceeded, 409),  # the licence is full: the state of the organization refuses it
    (Forbidden, 403),
    (AuthFailed, 401),
)


def control_error_response(exc: ControlError) -> JSONResponse:
    headers: dict[str, str] = {}
    status = next((code for cls, code in STATUS if isinstance(exc, cls)), 400)
    if isinstance(exc, AuthFailed):
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, int(exc.retry_after)))
            if exc.locked:  # even the right password is refused now: 429; otherwise a plain 401
                status = 429
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="mailark"'
    return JSONResponse({"error": str(exc)}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body",)) or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "the request is not valid: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Every error is `{"error": message}`: control refusals, validation, unknown routes, crashes."""

    @app.exception_handler(ControlError)
    async def _control(request: Request, exc: ControlError) -> JSONResponse:
        if isinstance(exc, Forbidden):
            _audit_refusal(request, exc)
        return control_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such API route: see /openapi.json"
        elif exc.status_code == 405:
            message = "this method is not allowed on this route: see /openapi.json"
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:  # logged by uvicorn; no internals leak
        explained = explain(exc)  # a damaged file, a full disk, an I/O error: say which, and what to do
        if explained is not None:
            log.error("%s (%s: %s)", explained, type(exc).__name__, exc)
            return JSONResponse({"error": f"the archive cannot answer now: {explained}"}, status_code=503)
        return JSONResponse({"error": "internal error: the server logged it; try again or tell the operator"},
                            status_code=500)


def _audit_refusal(request: Request, exc: Forbidden) -> None:
    """An authenticated caller was refused an action: that is an event for the audit log too.

    The request's own transaction is rolled back with the error, so this writes in one of its own.
    """
    from mailark.control import audit

    principal = getattr(request.state, "principal", None)
    if principal is None:
        return
    with request.app.state.mailark.runtime.session(write=True) as s:
        audit.record(s, principal, "request.denied", org_id=principal.org_id,
                     target=f"{request.method} {request.url.path}", outcome="denied", details={"reason": str(exc)})
