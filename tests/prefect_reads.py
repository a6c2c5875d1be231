"""What a test reads back from the Prefect server (the harness) after a flow ran."""

from __future__ import annotations

import asyncio


def artifact(key: str) -> str:
    """The newest markdown of the artifact `key` ("" if none was made)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def q():  # type: ignore[no-untyped-def]
        async with get_client() as c:
            return await c.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))

    found = asyncio.run(q())
    return found[0].data if found else ""
