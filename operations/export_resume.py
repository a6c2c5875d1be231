"""Exports paused at the storage quota resume by themselves once there is room.

Metering (every run) and licence changes (a raised tier, a resumed subscription) make room; both call
`resume_paused`. The rule of which paused exports may fit is in `mailark.control.exports.requeue_paused`.
"""

from __future__ import annotations

import logging

from mailark.control import exports as cx
from mailark.control.models import MeteringState, Organization
from mailark.operations.exports import launch, run_export
from mailark.runtime import Runtime

log = logging.getLogger(__name__)


def resume_paused(rt: Runtime, org_id: str, *, in_background: bool) -> list[str]:
    """Queue again the organization's paused exports that may fit now and start them: in the background
    (a flow run or a thread) for a long-lived process such as the web app, else here, to their end (a CLI
    call or a flow run would otherwise end before a thread it started). Returns their ids."""
    with rt.session(write=True) as s:
        org = s.get(Organization, org_id)
        if org is None:
            return []
        st = s.get(MeteringState, org_id)
        ids = cx.requeue_paused(s, org, st.storage_bytes if st is not None else 0)
    for export_id in ids:
        log.info("export %s: there is room in the quota now, resuming it", export_id)
        if in_background:
            launch(rt, export_id)
        else:
            run_export(rt, export_id)
    return ids
