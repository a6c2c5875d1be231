"""Microsoft 365 through Microsoft Graph, app-only: mail sync (sync.py) and the directory reader (directory.py)."""
