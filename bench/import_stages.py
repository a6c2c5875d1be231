"""Import cost of `mailark search query`, stage by stage: what dropping each layer would save.

Each stage is imported in a fresh process after the stages above it (so it is charged only what it
adds), `--runs` times; min and median in ms. Run from the checkout with MAILARK_HOME set (settings
are built).

    MAILARK_HOME=/path/to/home python -m bench.import_stages --runs 7
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

STAGES = [
    ("typer (+click)", "import typer"),
    ("pydantic + settings (get_settings())", "from mailark.config.settings import get_settings; get_settings()"),
    ("rich.console + rich.table", "import rich.console, rich.table"),
    ("sqlalchemy Core", "import sqlalchemy, sqlalchemy.engine"),
    ("sqlalchemy.orm", "import sqlalchemy.orm"),
    ("mailark.control.models (mapping)", "import mailark.control.models"),
    ("ORM mapper configuration (first query)", "sqlalchemy.orm.configure_mappers()"),
    ("control.orgs/reading/principals/audit",
     "import mailark.control.orgs, mailark.control.reading, mailark.control.principals, mailark.control.audit"),
    ("runtime + searcher (+tantivy)", "import mailark.runtime, mailark.catalog.search.searcher, tantivy"),
    ("mailark.cli.common + cli.search", "import mailark.cli.common, mailark.cli.search"),
]


def stage_seconds(before: str, stmt: str) -> float:
    """Seconds `stmt` takes in a new interpreter that has already run `before`."""
    code = f"import time\n{before}\nt = time.perf_counter()\n{stmt}\nprint(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args()
    done = ""
    for name, stmt in STAGES:
        xs = [stage_seconds(done, stmt) for _ in range(a.runs)]
        print(f"{name:45s} min {min(xs) * 1000:6.0f} ms  median {statistics.median(xs) * 1000:6.0f} ms", flush=True)
        done += stmt + "\n"


if __name__ == "__main__":
    main()
