"""The layout: one installed package, and imports that point one way.

    config <- storage <- catalog, control <- runtime <- sources <- operations <- flows, dashboards, front door

The folders at the top of the repository are the rooms of that house (see CONTRIBUTING.md);
`mailark/` itself, apart from the rooms mapped into it, is the front door (the CLI, `mailark up`).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# room -> floor; an import may only go to the same room or a lower floor.
FLOORS = {"config": 0, "storage": 1, "catalog": 2, "control": 2, "runtime": 3, "sources": 4,
          "operations": 5, "flows": 6, "dashboards": 6, "front": 7}
# Rooms that must not know each other, whatever their floors: sources are handed a runtime by their
# caller and name only the part they use (sources/handle.py).
STRANGERS = {frozenset({"catalog", "control"}), frozenset({"flows", "dashboards"}), frozenset({"sources", "runtime"})}


def _room_of_module(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "mailark":
        return None
    if len(parts) > 1 and parts[1] in FLOORS and parts[1] != "front":
        return parts[1]
    return "front"


def _room_of_file(path: Path) -> str:
    top = path.relative_to(REPO).parts[0]
    return "front" if top == "mailark" else top


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module this file imports, at any depth (function-level imports count too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def _code_files() -> list[Path]:
    rooms = [r for r in FLOORS if r != "front"] + ["mailark"]
    return sorted(p for r in rooms for p in (REPO / r).rglob("*.py") if "migrations" not in p.parts)


def test_imports_point_one_way() -> None:
    upward = []
    for path in _code_files():
        mine = _room_of_file(path)
        for line, module in _imports(path):
            theirs = _room_of_module(module)
            if theirs is None or theirs == mine:
                continue
            if FLOORS[theirs] > FLOORS[mine] or frozenset({mine, theirs}) in STRANGERS:
                upward.append(f"{path.relative_to(REPO)}:{line} ({mine}) imports {module} ({theirs})")
    assert not upward, "imports that point up or sideways:\n" + "\n".join(sorted(set(upward)))


def test_old_top_level_names_are_gone() -> None:
    """Nothing imports `storage`, `catalog`, ... as top-level packages any more."""
    old = {"config", "storage", "catalog", "control", "runtime", "operations", "sources", "flows", "dashboards"}
    stale = [f"{p.relative_to(REPO)}:{line} imports {m}"
             for p in [*_code_files(), *sorted((REPO / "tests").rglob("*.py")), *sorted((REPO / "bench").rglob("*.py"))]
             for line, m in _imports(p) if m.split(".")[0] in old]
    assert not stale, "\n".join(stale)


def test_every_subpackage_is_listed_for_installation() -> None:
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    mapping = cfg["package-dir"]
    on_disk = set()
    for name, folder in mapping.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder).parts
            if name == "mailark" and rel and rel[0] in {v for v in mapping.values() if v != "mailark"}:
                continue
            on_disk.add(".".join((name, *rel)))
    # Folders of data files (templates, static files) are listed too, or setuptools warns at every install.
    data = {f"{name}.{'.'.join(d.relative_to(REPO / folder).parts)}" for name, folder in mapping.items()
            for d in (REPO / folder).rglob("*") if d.is_dir() and "__pycache__" not in d.parts
            and not (d / "__init__.py").exists() and any(f.is_file() and f.suffix != ".py" for f in d.iterdir())
            and (d.parent / "__init__.py").exists()}
    assert on_disk | data == listed, (f"missing from pyproject: {sorted((on_disk | data) - listed)}; "
                                      f"not on disk: {sorted(listed - on_disk - data)}")


@pytest.mark.slow
def test_an_installation_holds_one_package(tmp_path: Path) -> None:
    """`pip install .` puts `mailark` (and its dist-info) into site-packages, nothing else."""
    target = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(REPO)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    top = sorted(p.name for p in target.iterdir() if p.name not in {"bin", "__pycache__"})
    assert [n for n in top if not n.endswith(".dist-info")] == ["mailark"], top
    assert len([n for n in top if n.endswith(".dist-info")]) == 1, top
    pkg = target / "mailark"
    for sub in ("config", "storage", "catalog", "control", "runtime", "operations", "sources", "flows", "dashboards"):
        assert (pkg / sub / "__init__.py").is_file(), sub
    # the installed deployments are the checkout's (mailark/prefect.yaml is a symlink to ../prefect.yaml)
    assert (pkg / "prefect.yaml").read_text() == (REPO / "prefect.yaml").read_text()
    assert (pkg / "dashboards" / "web" / "templates").is_dir()
    assert (pkg / "control" / "migrations" / "versions").is_dir()
    # the installed copy imports on its own (no checkout on the path)
    probe = subprocess.run(
        [sys.executable, "-c", "import mailark.cli, mailark.flows.import_files, mailark.dashboards.app; "
                               "import mailark.storage as s; print(s.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert probe.stdout.strip().startswith(str(target))


def test_sources_hold_the_runtime_handle_without_importing_it() -> None:
    """Sources are given the Runtime by their caller (a flow, the CLI); they name it only for types."""
    probe = ("import sys, pkgutil, importlib, mailark.sources as s\n"
             "for m in pkgutil.walk_packages(s.__path__, 'mailark.sources.'):\n"
             "    importlib.import_module(m.name)\n"
             "print(sorted(m for m in sys.modules if m.startswith(('mailark.runtime', 'mailark.operations', "
             "'mailark.flows', 'mailark.dashboards', 'mailark.cli'))))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", done.stdout
