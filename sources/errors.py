"""Errors a source raises when it cannot do its job; the message says what happened and what to do."""

from __future__ import annotations


class SourceError(Exception):
    """The run cannot go on (server down, credentials refused, certificate not trusted, ...).

    `retryable` is True when the next scheduled run may well succeed without anyone acting
    (a server that is down); False when a person must fix something (a wrong password).
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class ItemRefused(SourceError):
    """The server refused this one item (too large, not accepted) while the connection stays good:
    the caller records it and goes on with the next."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)
