"""Job ids are a pure function of run id, source and scenario, and valid wherever they are
used."""

from __future__ import annotations

import re

import pytest
from rq.job import JOB_ID_PATTERN

from glue.errors import GlueError
from glue.jobs.naming import check_run_id, job_id

# Docker's rule for container names, which are "glue-<job id>".
CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


SRC = "s3://b/p"


def test_the_same_run_source_and_scenario_give_the_same_id() -> None:
    assert job_id("run1", SRC, "a/b.py") == job_id("run1", SRC, "a/b.py")


@pytest.mark.parametrize(
    "other",
    [
        ("run2", SRC, "a/b.py"),
        ("run1", SRC, "a/c.py"),
        ("run1", SRC, "a/b.py "),
        ("run", SRC, "1a/b.py"),
        ("run1", "s3://b/q", "a/b.py"),
        ("run1", "s3://b/p/a", "b.py"),
    ],
)
def test_any_other_run_source_or_scenario_gives_another_id(other) -> None:
    assert job_id(*other) != job_id("run1", SRC, "a/b.py")


@pytest.mark.parametrize("scenario", ["x.py", "deep/../odd name ü.py", "a:b/c;d"])
def test_ids_are_valid_rq_ids_and_container_names(scenario) -> None:
    jid = job_id("Run_1-x", SRC, scenario)
    assert JOB_ID_PATTERN.fullmatch(jid)
    assert CONTAINER_NAME.match(f"glue-{jid}-12")
    assert jid.startswith("Run_1-x-")


@pytest.mark.parametrize("run_id", ["a", "run-2024_01", "X" * 64])
def test_good_run_ids_pass(run_id) -> None:
    assert check_run_id(run_id) == run_id


@pytest.mark.parametrize("run_id", ["", "-a", "a/b", "a b", "a.b", "X" * 65, "ü"])
def test_bad_run_ids_are_refused(run_id) -> None:
    with pytest.raises(GlueError, match="bad run id"):
        check_run_id(run_id)
