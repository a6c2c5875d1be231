"""IMAP mail source: profile configuration, a read-only client, and the rules of mirroring folders.

Plain code without Prefect: `sources/imap/sync.py` runs a profile, `flows/imap_sync.py` wraps it
as flows and tasks. `probe()` checks a profile's connection and credentials.
"""

from mailark.sources.imap.client import probe
from mailark.sources.imap.config import ImapConfig, ImapSecret

__all__ = ["ImapConfig", "ImapSecret", "probe"]
