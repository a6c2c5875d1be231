"""Benchmarks for mailark and the synthetic organization-mail generator they run on.

`bench.generate` produces deterministic, realistic mail of one organization (Sent and Inbox copies
of every message, forwarded attachments re-wrapped by other clients) so that dedup, compression
and ingest speed can be measured on data shaped like the real thing. `bench.baseline` measures the
floor: how fast the standard library alone parses the same bytes.
"""
