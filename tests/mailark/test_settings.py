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


def _reference() -> type:
    """The Settings fields read by pydantic-settings as `Settings` was until it read the variables
    itself (config/environment.py): the reference the two must agree with."""
    from pydantic import create_model
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class Base(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="MAILARK_", env_nested_delimiter="__", extra="ignore")

    fields = {name: (f.annotation, f) for name, f in Settings.model_fields.items()}
    return create_model("Reference", __base__=Base, **fields)  # type: ignore[call-overload]


ENVIRONMENTS = [
    {"MAILARK_BATCH_MESSAGES": "5", "mailark_zstd_level": "7", "MAILARK_WEB_SECURE_COOKIES": "false"},
    {"MAILARK_S3__BUCKET": "b", "MAILARK_S3__SECURE": "0", "MAILARK_S3__SECRET_KEY": "s3cret"},
    {"MAILARK_S3": '{"endpoint": "minio:9000", "bucket": "j", "secure": false}', "MAILARK_S3__BUCKET": "over"},
    {"MAILARK_SOURCES__ALLOW_NETWORKS": '["10.0.0.0/8", "192.168.0.0/16"]', "MAILARK_SOURCES__PARALLEL": "8"},
    {"MAILARK_MAIL__FROM": "archive@example.org", "MAILARK_MAIL__RELAY_HOST": "smtp.example.org",
     "MAILARK_MAIL__PASSWORD": "pw"},
    {"MAILARK_MASTER_KEY": "a2V5", "MAILARK_WORM": "governance", "MAILARK_WORM_DEFAULT_KEEP": "10y",
     "MAILARK_ORPHAN_GRACE_DAYS": "0.5"},
    {"MAILARK_SEARCH__MAX_PARTS": "3", "MAILARK_SEARCH__SHARED": "1", "MAILARK_GRAPH__TIMEOUT": "5.5",
     "MAILARK_JOURNAL__DOMAIN": "journal.example.org", "MAILARK_USAGE_PORTAL__TOKEN": "t"},
    {"MAILARK_NO_SUCH": "1", "MAILARK_S3__NO_SUCH": "2", "MAILARK_WORM_DEFAULT_KEEP": "",
     "MAILARK_BACKUP__DESTINATION": "/srv/backups", "MAILARK_WEB__TLS_CERT": "/etc/cert.pem"},
    {"MAILARK_WEB": '{"tls_cert": "/a.pem"}', "MAILARK_WEB__TLS_KEY": "/a.key", "MAILARK_LAKE_CATALOG": "postgres:dbname=x"},
]


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=range(len(ENVIRONMENTS)))
def test_variables_read_as_pydantic_settings_reads_them(home: Settings, monkeypatch: pytest.MonkeyPatch,
                                                        environment: dict[str, str]) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    ours, reference = Settings(), _reference()()
    assert ours.model_dump() == reference.model_dump()
    assert ours.model_dump() != Settings.model_construct().model_dump()  # the variables did change something
    # Keyword arguments win, and nested ones merge with the variables.
    ours = Settings(batch_messages=9, s3={"region": "eu"})
    reference = _reference()(batch_messages=9, s3={"region": "eu"})
    assert ours.model_dump() == reference.model_dump()
    assert (ours.batch_messages, ours.s3.region) == (9, "eu")


@pytest.mark.parametrize("name, value", [("MAILARK_WEB_PORT", "eighty"), ("MAILARK_S3", "not json"),
                                         ("MAILARK_SOURCES__ALLOW_NETWORKS", "10.0.0.0/8"),
                                         ("MAILARK_SEARCH__MAX_PARTS", "65")])
def test_a_bad_variable_is_refused_as_pydantic_settings_refuses_it(home: Settings, monkeypatch: pytest.MonkeyPatch,
                                                                     name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as ours:
        Settings()
    with pytest.raises(ValueError):
        _reference()()
    assert name.split("__")[0].lower().removeprefix("mailark_") in str(ours.value).lower()


def test_the_cli_names_a_bad_setting_in_one_line_without_its_value(home: Settings) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "MAILARK_WEB_PORT": "eighty", "MAILARK_S3": '{"secret_key": 918273645}'}
    done = subprocess.run([sys.executable, "-m", "mailark.cli", "org", "list"], check=False, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the settings cannot be used"), done.stderr
    assert "MAILARK_WEB_PORT" in lines[0] and "MAILARK_S3__SECRET_KEY" in lines[0]
    assert "918273645" not in done.stderr and "eighty" not in done.stderr  # values (secrets) never shown
    env = {**os.environ, "MAILARK_S3": "not json"}
    done = subprocess.run([sys.executable, "-m", "mailark.cli", "org", "list"], check=False, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "MAILARK_S3 must be JSON" in done.stderr and "Traceback" not in done.stderr
