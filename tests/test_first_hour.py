"""The first hour on a fresh clone (issue 18): the tests and the demo work without ../shared beside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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
