"""The first hour on a fresh clone (issue 18): the tests and the demo work without ../shared beside it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _pytest_in(root: Path, env_corpus: str | None) -> subprocess.CompletedProcess[str]:
    """Run a one-test suite with this repository's conftest, in a folder with no ../shared beside it."""
    (root / "tests").mkdir(parents=True)
    shutil.copy(REPO / "tests" / "conftest.py", root / "tests" / "conftest.py")
    (root / "tests" / "test_needs_corpus.py").write_text(
        "def test_uses_corpus(corpus):\n    assert corpus.is_dir()\n\n"
        "def test_uses_samples(samples):\n    assert (samples / 'Inbox').is_dir()\n", encoding="utf-8")
    (root / "samples").symlink_to(REPO / "samples")
    env = {k: v for k, v in os.environ.items() if k != "MAILARK_TEST_CORPUS"}
    if env_corpus is not None:
        env["MAILARK_TEST_CORPUS"] = env_corpus
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "--rootdir", str(root),
           "-c", os.devnull, str(root / "tests")]
    return subprocess.run(cmd, check=False, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_a_clone_without_the_corpus_skips_with_the_reason(tmp_path: Path) -> None:
    done = _pytest_in(tmp_path / "clone", None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 skipped" in done.stdout, done.stdout
    assert "set MAILARK_TEST_CORPUS" in done.stdout, done.stdout


def test_a_wrong_corpus_path_fails_loudly(tmp_path: Path) -> None:
    done = _pytest_in(tmp_path / "clone", str(tmp_path / "no-such-corpus"))
    assert done.returncode != 0
    assert "is not a directory" in done.stdout, done.stdout


def test_the_install_builds_without_setuptools_warnings(tmp_path: Path) -> None:
    """`make demo` installs the package: setuptools must not warn about data folders it would ignore."""
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path / "dist"), str(REPO)],
                          check=False, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert "absent from the `packages` configuration" not in log, log[-5000:]
    import zipfile

    wheel = next((tmp_path / "dist").glob("mailark-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("mailark/dashboards/web/templates/base.html", "mailark/dashboards/web/static/mailark.css",
                   "mailark/control/data/common-passwords.txt", "mailark/control/migrations/versions/0013_tokens_and_lockout.py"):
        assert needed in names, needed


def _make_plan(target: str) -> str:
    done = subprocess.run(["make", "-n", "-B", "-C", str(REPO), target], check=False, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_demo_installs_only_what_the_demo_needs() -> None:
    demo, test = _make_plan("demo"), _make_plan("test")
    assert "[test]" not in demo and "pip install -q -e ." in demo, demo
    assert '-e ".[test]"' in test, test
    for line in (x for x in (demo + test).splitlines() if "pip install -q -e" in x):  # no setuptools note shown
        assert 'PYTHONWARNINGS="ignore:Editable installation"' in line, line
    import tomllib

    extras = str(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]).lower()
    for heavy in ("playwright", "moto", "schemathesis", "pytest"):
        assert heavy not in extras, f"{heavy} is a test extra, not a dependency of the demo"


def test_the_demo_summary_reads_like_a_person_wrote_it() -> None:
    from mailark.cli.server import import_line, storage_line

    line = import_line({"seen": 1579, "archived": 0, "duplicates": 1579, "quarantined": 0}, "samples/mail")
    assert line.startswith("1,579 seen in samples/mail: 0 archived, 1,579 duplicates"), line
    assert storage_line(1_000_000, 100_000).endswith(": 90% saved")
    tiny = storage_line(1453, 19825)  # a few sample messages: the catalogue outweighs them
    assert "saved" not in tiny and "%" not in tiny and "19,825 bytes stored" in tiny, tiny


def test_the_demo_starts_the_web_app_and_says_where_to_log_in(tmp_path: Path) -> None:
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARK_")}
    env.update({"MAILARK_HOME": str(tmp_path / "home"), "MAILARK_WEB_PORT": str(port),
                "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api"})
    mailark = str(Path(sys.executable).parent / "mailark")
    try:
        done = subprocess.run([mailark, "demo", "--no-server", "--corpus", str(REPO / "samples" / "mail")], env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Prefect server" not in done.stderr  # none was started, so none is announced
        login = next(ln for ln in done.stdout.splitlines() if ln.startswith("log in "))
        assert f"http://127.0.0.1:{port}/login as admin@demo with the one-time password " in login, login
        password = login.rsplit(" ", 1)[1]
        page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=10)
        assert page.status_code == 200
        answer = httpx.post(f"http://127.0.0.1:{port}/api/auth/login", json={"login": "admin@demo", "password": password},
                            headers={"X-Requested-With": "mailark"},
                            timeout=30)
        assert answer.status_code == 200, answer.text
        assert "4 seen in" in done.stdout and "3 archived" in done.stdout
        assert any(ln.startswith("search it ") for ln in done.stdout.splitlines())
        found = subprocess.run([mailark, "search", "query", "--org", "demo", "", "--json"], env=env,
                               capture_output=True, text=True, timeout=60, check=False)
        assert found.returncode == 0 and json.loads(found.stdout)["total"] == 3, found.stdout + found.stderr  # indexed
    finally:
        stop = subprocess.run([mailark, "server", "stop"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert "stopped the web app" in stop.stdout, stop.stdout + stop.stderr
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)


def test_a_passing_run_leaves_nothing_in_the_temp_dir(tmp_path: Path) -> None:
    """Each test writes into tmp_path; with the repository's pytest settings nothing of a passing run stays."""
    root = tmp_path / "clone"
    (root / "tests").mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / "tests" / "test_big.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('n', range(3))\n"
        "def test_writes(tmp_path, n):\n    (tmp_path / 'blob').write_bytes(bytes(2_000_000))\n", encoding="utf-8")
    temproot = tmp_path / "temproot"
    temproot.mkdir()
    env = {**os.environ, "PYTEST_DEBUG_TEMPROOT": str(temproot)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                           "-o", "addopts=", str(root / "tests")], check=False, cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    left = sum(f.stat().st_size for f in temproot.rglob("*") if f.is_file())
    assert left < 100_000, f"{left:,} bytes left in the temporary directory after a passing run"
