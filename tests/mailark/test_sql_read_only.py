"""Issue 13: `mailark sql` is read-only in fact: no other file, no write, no attach, no setting back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MAILARK = str(Path(sys.executable).parent / "mailark")
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "mail"


def _sql(query: str, code: int) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([MAILARK, "sql", query, "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == code, (query, done.stdout, done.stderr)
    return done


def test_sql_reads_the_catalogue_and_nothing_else(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    subprocess.run([MAILARK, "org", "create", "acme", "--json"], check=True, capture_output=True, timeout=120)
    subprocess.run([MAILARK, "import", str(SAMPLES), "--org", "acme", "--mailbox", "archive@acme", "--json"],
                   check=True, capture_output=True, timeout=120)
    assert '"n": 3' in _sql("SELECT count(*) AS n FROM messages", 0).stdout
    key = home.db_dir / "master.key"
    assert key.exists()
    target = tmp_path / "out.csv"
    for query in (f"SELECT * FROM read_text('{key}')", f"SELECT * FROM read_blob('{key}')",
                  f"SELECT * FROM read_csv('{home.db_dir / 'control.sqlite'}')",
                  f"COPY (SELECT * FROM messages) TO '{target}'",
                  f"ATTACH '{home.db_dir / 'lake.sqlite'}' AS writable",
                  "INSERT INTO messages (org_id) VALUES ('x')", "DELETE FROM mailbox_items",
                  "SET enable_external_access = true", "LOAD sqlite_scanner",
                  f"SELECT * FROM sqlite_scan('{home.db_dir / 'control.sqlite'}', 'users')",
                  f"SELECT 1; ATTACH '{home.db_dir / 'control.sqlite'}' AS c",
                  f"SELECT count(*) FROM messages WHERE 1 IN (SELECT 1 FROM read_text('{key}'))"):
        r = _sql(query, 1)
        assert "query failed" in r.stderr, (query, r.stderr)
    assert not target.exists()
