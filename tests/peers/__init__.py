"""Real peers (servers) that tests start as subprocesses on loopback ports."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback port that was free a moment ago (the caller retries if another process takes it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])
