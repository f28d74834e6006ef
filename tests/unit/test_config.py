"""Settings: defaults < glue.yml < GLUE_* environment < flags."""

from __future__ import annotations

import pytest

from glue import config
from glue.config import ConfigError, Settings


@pytest.fixture
def glue_yml(tmp_path):
    path = tmp_path / "glue.yml"
    path.write_text(
        "redis_url: redis://:file@10.0.0.1:6379/0\n"
        "timeout: 100\n"
        "retries: 5\n"
        "reduce: [sum:x, count]\n"
        "cpus: 2\n"
        "executor: process\n"
    )
    return path


def test_defaults_without_file_env_or_flags() -> None:
    assert config.load({}, environ={}) == Settings()


def test_the_file_overrides_defaults(glue_yml) -> None:
    s = config.load({}, config_path=str(glue_yml), environ={})
    assert (s.redis_url, s.timeout, s.retries, s.reduce) == (
        "redis://:file@10.0.0.1:6379/0",
        100,
        5,
        ["sum:x", "count"],
    )
    assert s.cpus == 2.0 and s.executor == "process"


def test_environment_overrides_the_file(glue_yml) -> None:
    env = {"GLUE_TIMEOUT": "200", "GLUE_REDUCE": "max:y, mean:z", "GLUE_CONFIG": str(glue_yml)}
    s = config.load({}, environ=env)
    assert (s.timeout, s.reduce, s.retries) == (200, ["max:y", "mean:z"], 5)


def test_flags_override_the_environment(glue_yml) -> None:
    env = {"GLUE_TIMEOUT": "200", "GLUE_REDIS_URL": "redis://env:1/0"}
    flags = {"timeout": 300, "redis_url": None, "reduce": ["concat"], "run_id": "ignored"}
    s = config.load(flags, config_path=str(glue_yml), environ=env)
    assert (s.timeout, s.redis_url, s.reduce, s.retries) == (
        300,
        "redis://env:1/0",
        ["concat"],
        5,
    )


def test_config_flag_wins_over_glue_config_variable(tmp_path, glue_yml) -> None:
    other = tmp_path / "other.yml"
    other.write_text("timeout: 7\n")
    s = config.load({}, config_path=str(other), environ={"GLUE_CONFIG": str(glue_yml)})
    assert s.timeout == 7 and s.retries == Settings().retries


def test_an_empty_variable_clears_an_optional_setting(glue_yml) -> None:
    s = config.load({}, config_path=str(glue_yml), environ={"GLUE_CPUS": ""})
    assert s.cpus is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("timeot: 5\n", "unknown setting 'timeot'"),
        ("timeout: soon\n", "timeout must be int"),
        ("timeout: 1.5\n", "timeout must be int"),
        ("slots: 0\n", "slots must be at least 1"),
        ("executor: k8s\n", "executor 'k8s' is not one of"),
        ("- a\n- b\n", "must hold a mapping"),
        ("a: [\n", "not valid YAML"),
        ("job_uid: 0\n", "job_uid must be at least 1"),
        ("read_only_root: maybe\n", "read_only_root must be bool"),
    ],
)
def test_bad_files_are_refused_with_the_setting_named(tmp_path, text, message) -> None:
    path = tmp_path / "glue.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        config.load({}, config_path=str(path), environ={})


def test_a_missing_file_is_named(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        config.load({}, config_path=str(tmp_path / "nope.yml"), environ={})


def test_a_bad_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="GLUE_RETRIES: retries must be int"):
        config.load({}, environ={"GLUE_RETRIES": "many"})


def test_switches_come_as_yaml_booleans_or_words() -> None:
    assert config.load({}, environ={"GLUE_READ_ONLY_ROOT": "no"}).read_only_root is False
    assert config.load({}, environ={"GLUE_ALLOW_WRITABLE_ROOT": "true"}).allow_writable_root
    s = config.load({"read_only_root": False}, environ={"GLUE_READ_ONLY_ROOT": "yes"})
    assert s.read_only_root is False  # a flag given as --no-read-only-root wins
