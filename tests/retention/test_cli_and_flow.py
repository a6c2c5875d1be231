"""`mailark retention ...` and `mailark hold ...` as the issue writes them, `mailark delete` refusing a
held copy (exit 1, the case named), and the apply-retention flow with its artifact."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from mailark.cli import app
from tests.retention.conftest import Archive
from tests.search.mails import message

OLD = datetime(2012, 3, 1, tzinfo=UTC)


def cli(*args: str, code: int = 0, stdin: str | None = None):  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(app, list(args), input=stdin)
    assert r.exit_code == code, (r.stdout, r.stderr, r.exception)
    return r


def test_retention_and_hold_commands(rt, arc: Archive) -> None:  # type: ignore[no-untyped-def]
    old = arc.put(arc.ann, [message(i, date=OLD) for i in range(3)])
    held = arc.put(arc.info, [message(9, date=OLD, subject="merger")])
    doc = json.loads(cli("retention", "add", "seven", "--org", "acme", "--keep", "7y", "--json").stdout)
    assert doc["policy"]["keep"] == "7y" and doc["policy"]["scope"] == "organization"
    cli("retention", "add", "bank", "--org", "acme", "--keep", "10y", "--query", "from:@bank.example",
        "--from", "archived", "--action", "review", "--mailbox", "ann@acme.example")
    cli("retention", "add", "bad", "--org", "acme", "--keep", "7 years", code=1)
    cli("retention", "add", "bad", "--org", "acme", "--keep", "1y", "--query", "subject:(", code=1)
    names = [p["name"] for p in json.loads(cli("retention", "list", "--org", "acme", "--json").stdout)]
    assert names == ["seven", "bank"]

    # shortening: refused with --json, asked otherwise, saved with --yes
    r = cli("retention", "change", "seven", "--org", "acme", "--keep", "1y", "--json", code=1)
    assert "would shorten how long 4 archived copies" in r.stderr
    r = cli("retention", "change", "seven", "--org", "acme", "--keep", "1y", stdin="n\n", code=1)
    assert "would shorten" in r.stderr
    assert json.loads(cli("retention", "list", "--org", "acme", "--json").stdout)[0]["keep"] == "7y"
    cli("retention", "change", "seven", "--org", "acme", "--keep", "6y", "--yes")

    r = json.loads(cli("hold", "add", "Case 1", "--org", "acme", "--query", "subject:merger", "--reason",
                       "counsel's instruction", "--json").stdout)
    assert r["query"] == "subject:merger" and r["active"]
    cli("hold", "add", "Case 2", "--org", "acme", "--reason", "both given", "--query", "x", "--mailbox", "ann@acme.example",
        code=1)
    (h,) = json.loads(cli("hold", "list", "--org", "acme", "--json").stdout)
    assert h["case"] == "Case 1" and h["covers"]["copies"] == 1

    r = cli("delete", "--org", "acme", "--item", held[0], "--reason", "erasure request", "--yes", code=1)
    assert "Case 1" in r.stderr and "legal hold" in r.stderr
    pv = json.loads(cli("retention", "preview", "--org", "acme", "--json").stdout)
    assert pv["policies"][0]["now"]["copies"] == 3 and pv["held"]["copies"] == 1
    doc = json.loads(cli("retention", "apply", "--org", "acme", "--json").stdout)
    assert (doc["deleted"], doc["held"], doc["review"]) == (3, 1, 0)
    cli("hold", "release", "Case 1", "--org", "acme", "--reason", "case closed")
    assert json.loads(cli("hold", "list", "--org", "acme", "--json").stdout) == []
    assert json.loads(cli("hold", "list", "--org", "acme", "--released", "--json").stdout)[0]["active"] is False
    cli("delete", "--org", "acme", "--item", held[0], "--reason", "erasure request", "--yes")

    rep = cli("retention", "report", "--org", "acme").stdout
    assert "seven" in rep and "Case 1" in rep and "audit chain: verifies" in rep and "deleted 3 copies" in rep
    cli("retention", "remove", "bank", "--org", "acme", "--yes")
    assert [p["name"] for p in json.loads(cli("retention", "list", "--org", "acme", "--json").stdout)] == ["seven"]
    assert json.loads(cli("retention", "preview", "--org", "acme", "--json").stdout)["policies"][0]["governs"]["copies"] == 0
    assert len(old) == 3


def test_apply_retention_flow_writes_an_artifact_per_organization(prefect_api, rt, arc: Archive) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.principals import Principal
    from mailark.control.retention import PolicySpec
    from mailark.flows.retention import apply_retention_flow
    from mailark.operations.retention import save_checked
    from tests.flows.test_export_flow import _artifacts
    from tests.flows.test_import_flow import _flow_runs

    arc.put(arc.ann, [message(i, date=OLD) for i in range(2)])
    save_checked(rt, Principal.deployment_operator(), "acme", PolicySpec("five", "5y"))
    result = apply_retention_flow()
    assert result["acme"]["deleted"] == 2
    (art,) = _artifacts("retention-acme")
    assert "deleted: 2 copies" in art.data and "policy **five**: 2 deleted" in art.data
    assert all(r.state.is_completed() for r in _flow_runs("apply-retention"))


def test_hold_export_command_writes_the_zip_the_sidecar_and_prints_the_custody(rt, arc: Archive, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import hashlib
    import zipfile

    arc.put(arc.info, [message(9, date=OLD, subject="merger")])
    cli("hold", "add", "Case 1", "--org", "acme", "--query", "subject:merger", "--reason", "counsel's instruction")
    out = tmp_path / "case1.zip"
    doc = json.loads(cli("hold", "export", "Case 1", "--org", "acme", "--out", str(out), "--json").stdout)
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    assert doc["zip_sha256"] == sha and doc["messages"] == 1 and doc["case"] == "Case 1"
    assert (tmp_path / "case1.zip.sha256").read_text().split()[0] == sha
    with zipfile.ZipFile(out) as zf:
        assert "CUSTODY.txt" in zf.namelist()
    r = cli("hold", "export", "Case 1", "--org", "acme", "--out", str(tmp_path / "again.zip"))
    assert "SHA-256 of the zip" in r.stdout and "manifest.csv" in r.stdout
    r = cli("hold", "export", "No such case", "--org", "acme", "--out", str(tmp_path / "x.zip"), code=1)
    assert "no hold for case" in r.stderr and "Traceback" not in r.stderr
