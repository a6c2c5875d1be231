"""`mailark meter`, `mailark usage` and `mailark billing` as the operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from mailark.control.models import GB
from tests.control.conftest import make_tenant
from tests.metering.conftest import add_object

MAILARK = str(Path(sys.executable).parent / "mailark")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MAILARK, *args], capture_output=True, text=True, timeout=120, env=os.environ.copy())


def test_meter_usage_and_billing_commands(rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "acme", users=5, storage_gb=10)
    make_tenant(rt, "globex", users=2, storage_gb=25)
    add_object(rt, t.org.id, int(9.6 * GB))
    rt.close()  # the commands are other processes

    p = _run("meter", "--json")
    assert p.returncode == 0, p.stderr
    docs = {d["org"]: d for d in json.loads(p.stdout)}
    assert docs["acme"]["mode"] == "full" and docs["acme"]["outcome"]["storage_quota_bytes"] == 10 * GB
    p = _run("meter", "--org", "acme")
    assert p.returncode == 0 and "incremental count, 0 catalogue rows read" in p.stdout and "96 % full" in p.stdout

    p = _run("usage", "--org", "acme", "--json")
    doc = json.loads(p.stdout)
    assert doc["storage_used_gb"] == 10 and doc["storage_quota_gb"] == 10 and doc["warnings"][0]["code"] == "storage"
    p = _run("usage")
    assert p.returncode == 0 and "acme" in p.stdout and "globex" in p.stdout and "96 % full" in p.stdout

    month = datetime.now(UTC).strftime("%Y-%m")
    p = _run("billing", "--month", month, "--json")
    assert {(r["org"], r["storage_gb"], r["licensed_users"]) for r in json.loads(p.stdout)} == {("acme", 10, 5), ("globex", 25, 2)}

    p = _run("billing", "--month", "last month")
    assert p.returncode == 1 and "YYYY-MM" in p.stderr
    p = _run("usage", "--org", "nosuch")
    assert p.returncode == 1 and "no organization named 'nosuch'" in p.stderr
