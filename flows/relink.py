"""The `relink-alias` flow (on demand, started when an address is added to a mailbox): link the mail
already archived for the mailbox's addresses to it (mailark.operations.relink; catalogue rows only)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from mailark.operations.relink import relink_mailbox
from mailark.runtime import open_runtime


@flow(name="relink-alias", flow_run_name="re-link {address} of {org}", log_prints=True, retries=2,
      retry_delay_seconds=30)
def relink_alias(org: str, address: str) -> dict[str, object]:
    """Add copies (no new content) of journalled mail that names one of the mailbox's addresses."""
    rt = open_runtime()
    try:
        r = relink_mailbox(rt, org, address)
    finally:
        rt.close()
    get_run_logger().info("%s: %d message(s) linked to %s, %d it already held", org, r.linked, r.mailbox, r.already)
    return r.as_dict()
