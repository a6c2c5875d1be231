"""An organization with two archive mailboxes (tests/search/conftest.py) and a principal for retention."""

from __future__ import annotations

from tests.search.conftest import Archive, Box, arc  # noqa: F401 - the fixture, shared

__all__ = ["Archive", "Box", "arc"]
