"""How the sync flows show the sources that failed in a tick (issue 17).

One flow run checks every due source of every organization, so a failure must not hide in its log:
each failed source becomes a failed task run named "<kind> <source> (<organization>)", with the
reason as its state message, and the run gets one markdown artifact "<kind>-sync-failures" listing
them. The Prefect objects of a tick thus grow with the work done and the failures, not with the
number of due sources.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect import task
from prefect.cache_policies import NO_CACHE

from mailark.sources.errors import SourceError


@dataclass(frozen=True)
class SourceFailure:
    org: str
    name: str
    reason: str


@task(name="source-failed", cache_policy=NO_CACHE, task_run_name="{kind} {name} ({org})")
def source_failed(kind: str, name: str, org: str, reason: str) -> None:
    """Fail, with the reason, so that the UI shows which organization's source failed."""
    raise SourceError(f"source {name!r} of {org!r} {reason}")


def report(kind: str, title: str, failures: list[SourceFailure], due: int) -> None:
    """The failed task runs and the artifact of a tick (nothing when every due source did its work)."""
    from prefect.artifacts import create_markdown_artifact

    for f in failures:
        source_failed(kind, f.name, f.org, f.reason, return_state=True)
    if not failures:
        return
    lines = [f"# {title} that failed", "", "| organization | source | reason |", "|---|---|---|"]
    lines += [f"| {f.org} | {f.name} | {f.reason.replace('|', '/')} |" for f in failures]
    create_markdown_artifact("\n".join(lines), key=f"{kind}-sync-failures",
                             description=f"{len(failures)} of {due} due {title} failed")
