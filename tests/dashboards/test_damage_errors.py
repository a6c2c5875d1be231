"""A damaged file, a full disk or an I/O error: one sentence saying what and what to do, in the CLI and
the web app alike (503, never a bare "internal error" or a traceback)."""

from __future__ import annotations

import errno
import sqlite3

import duckdb
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from mailark.dashboards.errors import install_error_handlers
from mailark.operations.failures import explain


@pytest.mark.parametrize(("exc", "words"), [
    (duckdb.InvalidInputException("Invalid Input Error: Computed AES tag differs from read AES tag"),
     ("catalogue", "damaged", "mailark scrub")),
    (duckdb.IOException("IO Error: Could not write file \"x.parquet\": No space left on device"), ("disk is full",)),
    (OSError(errno.ENOSPC, "No space left on device", "/srv/mailark/objects/x"), ("disk is full", "/srv/mailark")),
    (OSError(errno.EIO, "Input/output error", "/srv/mailark/db/control.sqlite"), ("I/O error", "dmesg")),
    (OperationalError("SELECT 1", {}, sqlite3.DatabaseError("database disk image is malformed")),
     ("control plane", "damaged", "backup")),
    (OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full")), ("disk is full",)),
])
def test_damage_full_disks_and_io_errors_are_explained(exc: BaseException, words: tuple[str, ...]) -> None:
    text = explain(exc)
    assert text is not None and "\n" not in text and all(w in text for w in words), text


def test_other_errors_are_not_dressed_up() -> None:
    assert explain(ValueError("x")) is None and explain(duckdb.CatalogException("no such table")) is None


def test_the_web_app_answers_503_with_the_sentence() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/damaged")
    def damaged() -> None:
        raise duckdb.InvalidInputException("Invalid Input Error: Computed AES tag differs from read AES tag")

    @app.get("/bug")
    def bug() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/damaged")
        assert r.status_code == 503 and "damaged" in r.json()["error"] and "mailark scrub" in r.json()["error"]
        r = c.get("/bug")  # today's answer for everything: unchanged for real bugs
        assert r.status_code == 500 and "internal error" in r.json()["error"]
