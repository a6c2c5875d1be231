"""Object store tests use the session's moto server (tests/conftest.py)."""
