"""`mailark import` makes its mail searchable before it returns (one process, not import + search index)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.mailark.test_cli import run


def test_import_indexes_in_process_unless_told_not_to(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("org", "create", "acme")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.eml").write_bytes(b"From: ann@acme\r\nTo: bob@acme\r\nSubject: zebrafinch\r\n"
                                b"Message-ID: <a1@acme>\r\n\r\nhello\r\n")
    (src / "b.eml").write_bytes(b"From: ann@acme\r\nTo: bob@acme\r\nSubject: okapi\r\n"
                                b"Message-ID: <b1@acme>\r\n\r\nhello\r\n")
    doc = json.loads(run("import", str(src / "a.eml"), "--org", "acme", "--mailbox", "ann@acme", "--json").stdout)
    assert doc["archived"] == 1 and doc["index"]["indexed"] == 1
    hits = json.loads(run("search", "query", "--org", "acme", "zebrafinch", "--json").stdout)
    assert hits["total"] == 1
    doc = json.loads(run("import", str(src / "b.eml"), "--org", "acme", "--mailbox", "ann@acme", "--no-index",
                         "--json").stdout)
    assert doc["archived"] == 1 and "index" not in doc
    later = json.loads(run("search", "index", "--org", "acme", "--json").stdout)
    assert later["indexed"] == 1  # the skipped copy was left for the next index run


def test_a_scripted_import_neither_draws_nor_sizes_a_progress_bar(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Without a terminal the bar is off: rich.progress is not imported and the files are not
    walked a second time to size it."""
    run("org", "create", "acme")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.eml").write_bytes(b"From: ann@acme\r\nTo: bob@acme\r\nSubject: quiet\r\nMessage-ID: <q1@acme>\r\n\r\nhi\r\n")
    code = ("import atexit, sys\n"
            "import mailark.sources.files.importing as imp\n"
            "calls = []\n"
            "real = imp.source_bytes\n"
            "imp.source_bytes = lambda s: calls.append(s) or real(s)\n"
            "atexit.register(lambda: print('PROBE', 'rich.progress' in sys.modules, len(calls), file=sys.stderr))\n"
            "sys.argv = ['mailark', 'import', sys.argv[1], '--org', 'acme', '--mailbox', 'ann@acme', '--no-index', '--json']\n"
            "from mailark.cli import main\n"
            "main()\n")
    p = subprocess.run([sys.executable, "-c", code, str(src)], capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["archived"] == 1
    assert "PROBE False 0" in p.stderr


def test_an_index_that_cannot_be_written_leaves_the_import_done(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The mail is archived and the command succeeds; stderr says it is not searchable yet and what to do."""
    run("org", "create", "acme")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.eml").write_bytes(b"From: ann@acme\r\nTo: bob@acme\r\nSubject: heron\r\nMessage-ID: <h1@acme>\r\n\r\nhi\r\n")
    search = home.db_dir / "search"
    search.parent.mkdir(parents=True, exist_ok=True)
    search.write_text("a file where the search indexes belong")  # no index directory can be made under it
    p = run("import", str(src), "--org", "acme", "--mailbox", "ann@acme", "--json")
    doc = json.loads(p.stdout)
    assert doc["archived"] == 1 and "index" not in doc
    assert "not searchable yet" in p.stderr and "mailark search index --org acme" in p.stderr
    assert "Traceback" not in p.stderr
    search.unlink()
    assert json.loads(run("search", "index", "--org", "acme", "--json").stdout)["indexed"] == 1  # nothing lost


def test_the_demo_goes_on_when_its_index_cannot_be_written(home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`mailark demo` indexes the sample mail itself (it starts no index-mail worker); an index it
    cannot write is a warning after the mail is archived, not a failed demo."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.eml").write_bytes(b"From: ann@demo\r\nTo: bob@demo\r\nSubject: ibis\r\nMessage-ID: <i1@demo>\r\n\r\nhi\r\n")
    search = home.db_dir / "search"
    search.parent.mkdir(parents=True, exist_ok=True)
    search.write_text("a file where the search indexes belong")
    p = run("demo", "--no-server", "--no-web", "--corpus", str(src))
    assert "not searchable yet" in p.stderr and "mailark search index --org demo" in p.stderr
    assert "Traceback" not in p.stderr
    assert "archived" in p.stdout and "search it" in p.stdout
    search.unlink()
    assert json.loads(run("search", "index", "--org", "demo", "--json").stdout)["indexed"] == 1  # nothing lost
