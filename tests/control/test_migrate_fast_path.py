"""Opening a control plane that is at the newest schema does not load Alembic (a large share of every
command's start-up); one that is behind is still upgraded by Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from mailark.control.db import _alembic_config, make_engine, migrate, plain_head


def test_the_plain_head_is_alembics_head(tmp_path: Path) -> None:
    cfg = _alembic_config(f"sqlite:///{tmp_path / 'c.sqlite'}")
    assert plain_head() == ScriptDirectory.from_config(cfg).get_current_head()


def test_an_up_to_date_control_plane_opens_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'control.sqlite'}"
    migrate(make_engine(url))  # a fresh database: created by Alembic
    probe = ("import sys\nfrom sqlalchemy import text\nfrom mailark.control.db import open_control\n"
             f"s = open_control({url!r})()\n"
             "print(s.execute(text('SELECT count(*) FROM organizations')).scalar())\n"
             "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')}))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "[]"]


def test_a_control_plane_behind_is_still_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    cfg = _alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0012")
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == plain_head()
