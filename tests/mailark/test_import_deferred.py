"""Issue 14, section 4: `mailark import` that meets a full archive says exactly what was deferred and how
to continue (re-run the same command), and a re-run archives only what is missing."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mailark.cli import app
from mailark.control.models import Organization


def test_a_full_archive_defers_and_the_rerun_archives_the_rest(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    src = corpus / "mail-parser"
    with rt.session() as s:
        s.get(Organization, org.id).storage_quota_bytes = 200_000
    r = CliRunner().invoke(app, ["import", str(src), "--org", "acme", "--mailbox", "ann@acme", "--json"])
    assert r.exit_code == 0, r.stderr
    first = json.loads(r.stdout)
    assert first["deferred"] > 0 and first["archived"] > 0
    assert f"{first['deferred']} messages were deferred (nothing of them was stored): re-run the same command" in r.stderr
    with rt.session() as s:
        s.get(Organization, org.id).storage_quota_bytes = 10**12
    r = CliRunner().invoke(app, ["import", str(src), "--org", "acme", "--mailbox", "ann@acme", "--json"])
    again = json.loads(r.stdout)
    assert again["deferred"] == 0 and "deferred" not in r.stderr
    assert again["archived"] == first["deferred"]  # exactly what was missing; the rest are duplicates now
