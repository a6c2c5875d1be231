"""IMAP mail source: profile configuration, a read-only client, and the rules of mirroring folders.

Plain code without Prefect: `flows/imap_syncing.py` runs a profile, `flows/imap_sync.py` wraps it
as flows and tasks. `probe()` checks a profile's connection and credentials.
"""

from sources.imap.client import probe
from sources.imap.config import ImapConfig, ImapSecret

__all__ = ["ImapConfig", "ImapSecret", "probe"]
