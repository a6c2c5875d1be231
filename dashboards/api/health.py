"""Liveness and readiness, for load balancers and orchestrators: no authentication, no tenant data.

`/api/health` says the process answers. `/api/ready` says it can serve users now: the control plane
answers a query, and (search.shared) the start-up pull of the shared search indexes is done, so a
balancer sends nobody to a replica whose first search would wait for that pull
(catalog/search/shipping.py: `prewarm`). Neither says how many organizations there are. They are
probes for machines, not part of the API: the OpenAPI document leaves them out (docs/integrators.md
lists them).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from mailark.dashboards.deps import Ctx

router = APIRouter(prefix="/api", tags=["health"])


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    ready: bool
    reasons: list[str]  # what is not ready yet, in words (empty when ready)


@router.get("/health", response_model=HealthOut, include_in_schema=False)
async def health() -> HealthOut:
    return HealthOut(status="ok")


@router.get("/ready", response_model=ReadyOut, include_in_schema=False)
def ready(request: Request, ctx: Ctx) -> JSONResponse:
    reasons: list[str] = []
    try:
        with ctx.runtime.control() as session:
            session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - whatever the database says, the replica cannot serve
        reasons.append("the control-plane database does not answer")
    warm = getattr(request.app.state, "search_warmup", None)
    if warm is not None and not warm.done.is_set():
        reasons.append("the shared search indexes are still being pulled (search.shared)")
    body = ReadyOut(ready=not reasons, reasons=reasons)
    return JSONResponse(body.model_dump(), status_code=503 if reasons else 200)
