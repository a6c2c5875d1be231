"""Settings: environment over the config file over defaults; all state under MAILARK_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mailark.config.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_config_file_and_environment(home: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    home.home.mkdir(parents=True, exist_ok=True)
    (home.home / "mailark.toml").write_text(
        'object_store = "s3"\nbatch_messages = 77\n[s3]\nendpoint = "minio:9000"\nbucket = "from-file"\n'
    )
    s = Settings()
    assert (s.object_store, s.batch_messages, s.s3.endpoint, s.s3.bucket) == ("s3", 77, "minio:9000", "from-file")
    monkeypatch.setenv("MAILARK_S3__BUCKET", "from-env")
    monkeypatch.setenv("MAILARK_BATCH_MESSAGES", "5")
    s = Settings()
    assert (s.s3.bucket, s.batch_messages, s.s3.endpoint) == ("from-env", 5, "minio:9000")
    assert "testing" not in repr(s.s3.secret_key)


def test_state_lives_under_home(home: Settings) -> None:
    for path in (home.objects_dir, home.db_dir, home.logs_dir, home.prefect_home, home.resolved_master_key_file):
        assert path.is_relative_to(home.home)
    assert home.resolved_control_url.endswith(str(home.db_dir / "control.sqlite"))
    assert home.resolved_lake_catalog == f"sqlite:{home.db_dir / 'lake.sqlite'}"


def test_every_deployment_points_at_a_flow() -> None:
    from prefect import Flow

    doc = yaml.safe_load((REPO / "prefect.yaml").read_text())
    assert doc["deployments"]
    for dep in doc["deployments"]:
        module, _, name = dep["entrypoint"].partition(":")
        mod = __import__(module.removesuffix(".py").replace("/", "."), fromlist=[name])
        assert isinstance(getattr(mod, name), Flow), dep["name"]
        assert dep["work_pool"]["name"] == "mailark"
