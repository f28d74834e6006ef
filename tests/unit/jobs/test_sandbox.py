"""The sandbox's pure rules: bounds, key refusals, --env, and how {scenario} and {io} are
filled into a command."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from glue.config import Settings
from glue.jobs.executor import fill_command
from glue.jobs.sandbox import Profile, Refused, check, key_refusal, parse_env

VALUES = {"scenario": "/io/inputs/a;touch x;{io}.py", "io": "/io"}


def test_argv_templates_get_each_value_as_one_plain_element() -> None:
    assert fill_command(["python3", "{scenario}", "--out={io}/r"], VALUES) == [
        "python3",
        "/io/inputs/a;touch x;{io}.py",
        "--out=/io/r",
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["sh", "-c", "echo {scenario}"],
        ["/bin/bash", "-lc", "echo {scenario}"],
        ["bash", "--norc", "-c", "echo {scenario}"],
    ],
)
def test_a_shell_script_gets_the_values_quoted_and_runs_no_key(command, tmp_path) -> None:
    filled = fill_command(command, VALUES)
    assert filled[-1] == "echo " + shlex.quote(VALUES["scenario"])
    out = subprocess.run(filled, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout == VALUES["scenario"] + "\n"
    assert list(tmp_path.iterdir()) == []  # `touch x` did not run


def test_a_shell_running_a_script_file_passes_plain_arguments() -> None:
    assert fill_command(["sh", "run.sh", "{scenario}"], VALUES)[2] == VALUES["scenario"]


@pytest.mark.parametrize(
    "key, why",
    [
        ("a\x00.py", "control character"),
        ("a\nb.py", "control character"),
        ("a\x1b[2J.py", "control character"),
        ("-rf.py", "starts with '-'"),
        ("dir/--help.py", "starts with '-'"),
    ],
)
def test_keys_that_cannot_be_passed_safely_are_refused(key, why) -> None:
    assert why in key_refusal(key)


@pytest.mark.parametrize("key", ["a;touch x;.py", "dir/$(id).py", "it's a-b.py", "a b.py"])
def test_shell_metacharacters_are_fine(key) -> None:
    assert key_refusal(key) is None


def test_the_defaults_fit_the_default_bounds() -> None:
    check(Profile(), Settings())
    check(Profile.of(Settings()), Settings())


@pytest.mark.parametrize(
    "profile, message",
    [
        (Profile(network="host"), "network 'host' is never allowed"),
        (Profile(network="container:db"), "is never allowed"),
        (Profile(network="bridge"), "not in this worker's allow_networks ['jobs', 'none']"),
        (Profile(read_only_root=False), "allow_writable_root is false"),
        (Profile(pids_limit=1025), "pids_limit 1025 is above this worker's max_pids_limit 1024"),
        (Profile(pids_limit=0), "pids_limit 0"),
        (Profile(shm_size="2g"), "shm_size 2g is above this worker's max_shm_size 1g"),
        (Profile(shm_size="lots"), "shm_size 'lots' is not a size"),
        (Profile(secrets=["../etc"]), "secret name '../etc'"),
    ],
)
def test_what_the_worker_does_not_allow_is_refused_by_name(profile, message) -> None:
    with pytest.raises(Refused) as refused:
        check(profile, Settings())
    assert message in str(refused.value)


def test_an_operator_may_allow_more() -> None:
    bounds = Settings(
        allow_networks=["jobs", "none", "bridge"],
        allow_writable_root=True,
        max_pids_limit=4096,
        max_shm_size="8g",
    )
    check(Profile("bridge", False, 4096, "8g"), bounds)
    with pytest.raises(Refused, match="never allowed"):
        check(Profile(network="host"), Settings(allow_networks=["host"]))


def test_env_items_are_name_value_pairs() -> None:
    assert parse_env(["A=1", "B_2=x=y", "C="]) == {"A": "1", "B_2": "x=y", "C": ""}
    for bad in ["A", "1A=x", "A B=x", "=x"]:
        with pytest.raises(Refused, match="is not NAME=VALUE"):
            parse_env([bad])
