"""`mailark search query`'s quick path on a PostgreSQL control plane: psycopg instead of SQLAlchemy,
the same answer and the same audit chain as the Typer command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mailark.control.audit import verify_chain
from mailark.control.models import AuditEvent
from tests.search.conftest import Archive, Box
from tests.search.mails import message

MAILARK = str(Path(sys.executable).parent / "mailark")
PROBE = ("import sys\nsys.argv = ['mailark', *sys.argv[1:]]\nfrom mailark.cli import main\nmain()\n"
         "print('LOADED', sorted({m.split('.')[0] for m in sys.modules if m.startswith(('sqlalchemy', 'typer'))}))\n")


def test_the_quick_search_answers_on_postgres_like_the_typer_command(home, rt, org) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.orgs import ensure_mailbox

    with rt.session() as s:
        ann, _ = ensure_mailbox(s, org, "ann@acme.example")
    arc = Archive(rt.archive_for(org), Box(ann.id, ann.primary_address), Box(ann.id, ann.primary_address), rt.settings.db_dir)
    arc.put(arc.ann, [message(1, subject="Walrus sighting"), message(2, subject="Penguin parade")])
    arc.archive.lake.close()
    env = os.environ.copy()
    assert subprocess.run([MAILARK, "search", "index", "--org", "acme"], env=env, capture_output=True, timeout=120).returncode == 0
    args = ["search", "query", "--org", "acme", "walrus", "--json"]
    quick = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, timeout=120)
    assert quick.returncode == 0, quick.stderr
    doc, loaded = quick.stdout.rsplit("LOADED", 1)
    assert loaded.strip() == "[]"  # answered without SQLAlchemy and Typer
    full = subprocess.run([sys.executable, "-c", "from mailark.cli import app; app(prog_name='mailark')", *args],
                          env=env, capture_output=True, text=True, timeout=120)
    assert full.returncode == 0, full.stderr
    assert json.loads(doc) == json.loads(full.stdout) and json.loads(doc)["total"] == 1
    with rt.session() as s:
        events = s.query(AuditEvent).where(AuditEvent.action == "content.search").order_by(AuditEvent.seq).all()
        assert [(e.actor_login, e.target, e.details) for e in events] == [("deployment-operator", "walrus", '{"total":1}')] * 2
        assert verify_chain(s).ok
