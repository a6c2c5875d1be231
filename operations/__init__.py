"""Jobs that join the catalogue, the control plane and the sources: exports, metering, maintenance,
backup, offboarding, permission-aware search and the embedded Prefect server.

They sit above `sources` (an offboarding drains journals; maintenance walks every organization) and
below the flows and dashboards that call them. The `Runtime` handle they share lives one floor down,
in `mailark.runtime`, so that sources can hold it without reaching up here.
"""
