"""One bulk slot per organization (issue 17: fairness between organizations' imports).

The `bulk` work queue runs at most 2 imports at once (mailark/work_queues.py); without a limit per
organization one organization's second import could take the other slot while another
organization's import waits. Each import-files run therefore holds the Prefect global concurrency
limit "bulk-<org>" (1 slot, created on first use; an operator may raise it in the UI) while it
archives. Prefect 3.9's tag limits apply to task runs only, so a flow-level limit per organization
is a global concurrency limit taken inside the flow. A run that waited for it would hold a bulk
queue slot while waiting, so a worker's run waits only WAIT_SECONDS and then queues itself again
(flows/import_files.py): the bulk slot goes to the next organization's import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

ORG_BULK_LIMIT = 1
# A crashed run's slot comes back when its lease runs out; a live run renews its lease.
LEASE_SECONDS = 300.0
# How long a worker's import run waits for its organization's slot before it queues itself again.
WAIT_SECONDS = 10.0


def limit_name(org: str) -> str:
    """The global concurrency limit of an organization's bulk imports."""
    return f"bulk-{org}"


def ensure_org_limit(org: str) -> bool:
    """Create the organization's limit if missing (an existing one is left as the operator set it); True if created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(limit_name(org))
            return False
        except ObjectNotFound:
            pass
        try:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=limit_name(org), limit=ORG_BULK_LIMIT, active=True))
        except ObjectAlreadyExists:  # another run of the organization created it first
            return False
    return True


@contextmanager
def org_bulk_slot(org: str, wait_seconds: float | None = None) -> Iterator[bool]:
    """Hold the organization's bulk slot; yields False if another import of it still runs after `wait_seconds`."""
    from prefect.concurrency.sync import concurrency

    ensure_org_limit(org)
    with ExitStack() as stack:
        try:
            # A transient lease-renewal error must not stop an import of hours; a lost lease only risks overlap.
            stack.enter_context(concurrency(limit_name(org), occupy=1, timeout_seconds=wait_seconds, strict=True,
                                            lease_duration=LEASE_SECONDS, raise_on_lease_renewal_failure=False))
            held = True
        except TimeoutError:
            held = False
        yield held
