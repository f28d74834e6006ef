"""What pauses a slot and for how long, which errors say the slot cannot run jobs, and how a
paused slot reads in status and the report (glue.jobs.pause)."""

from __future__ import annotations

import errno
from pathlib import Path

import docker.errors
import pytest
import requests.exceptions
from rq import Retry

from glue.config import ConfigError, Settings
from glue.jobs import pause
from glue.jobs.executor import ExecutorError
from glue.jobs.job import ScenarioFailed
from glue.jobs.report.build import write_report
from glue.jobs.sandbox import Refused
from glue.jobs.status import render_paused

SETTINGS = Settings(pause_after=3, pause_seconds=30, pause_max_seconds=600, executor_retries=6)


@pytest.mark.parametrize(
    ("errors", "seconds"),
    [(0, 0), (1, 0), (2, 0), (3, 30), (4, 60), (5, 120), (6, 240), (7, 480), (8, 600), (99, 600)],
)
def test_the_pause_starts_at_pause_after_and_doubles_up_to_its_cap(errors, seconds) -> None:
    assert pause.pause_seconds(errors, SETTINGS) == seconds


def test_a_huge_error_count_stays_at_the_cap() -> None:
    assert pause.pause_seconds(10**6, SETTINGS) == 600


@pytest.mark.parametrize(
    ("errors", "wait"), [(1, 0), (2, 30), (3, 60), (4, 120), (6, 480), (7, 600), (99, 600)]
)
def test_after_an_executor_error_the_job_goes_at_once_first_then_waits_longer(errors, wait) -> None:
    retry = pause.retry_after_error(errors, handed=errors + 5, settings=SETTINGS)
    assert Retry.get_interval(errors + 5, retry.intervals) == wait


@pytest.mark.parametrize("handed", [0, 1, 40])
def test_a_hand_back_goes_at_once_and_never_runs_out(handed) -> None:
    """RQ fails a job whose Retry count reached max: a hand-back never lets it."""
    retry = pause.hand_back(handed)
    assert Retry.get_interval(handed, retry.intervals) == 0
    assert retry.max > handed


@pytest.mark.parametrize(
    "exc",
    [
        ExecutorError("image node1:6001/simfleet/executor:v9 is not on this host and could not"),
        OSError(errno.ENOSPC, "No space left on device", "/srv/glue/jobs/x"),
        docker.errors.DockerException("Error while fetching server API version"),
        requests.exceptions.ConnectionError("('Connection aborted.', FileNotFoundError(2))"),
        docker.errors.APIError("500 Server Error", explanation="no space left on device"),
    ],
)
def test_errors_of_the_slot_are_executor_errors(exc) -> None:
    reason = pause.executor_error(exc)
    assert reason and "\n" not in reason


def test_a_long_reason_is_cut_to_one_short_line() -> None:
    reason = pause.executor_error(ExecutorError("x" * 1000 + "\nsecond line"))
    assert len(reason) == pause.MAX_REASON and reason.endswith("...")
    assert pause.executor_error(ExecutorError("first\nsecond")) == "first"


def test_a_full_disk_says_so_and_where() -> None:
    reason = pause.executor_error(OSError(errno.ENOSPC, "No space left on device", "/w/j"))
    assert reason == "disk full: No space left on device (/w/j)"


@pytest.mark.parametrize(
    "exc",
    [
        ScenarioFailed({"scenario": "a.py", "status": "failed", "error": "exit code 1"}),
        Refused("the run asks for network 'host', which this worker does not allow"),
        OSError(errno.EACCES, "Permission denied"),
        docker.errors.APIError("400 Client Error", explanation='exec: "nope": not found'),
        ValueError("results/result.json is not valid JSON"),
        RuntimeError("a bug"),
    ],
)
def test_a_scenario_failure_or_any_other_error_is_not_an_executor_error(exc) -> None:
    assert pause.executor_error(exc) is None


@pytest.mark.parametrize(
    ("name", "slot"),
    [
        ("node3.2.0a1b2c3d", "node3/2"),
        ("gpu-7.example.org.4.deadbeef", "gpu-7.example.org/4"),
        ("some-rq-worker", None),
        ("node3.x.0a1b2c3d", None),
        ("3.abc", None),
    ],
)
def test_slots_are_read_from_glue_worker_names_only(name, slot) -> None:
    assert pause.worker_slot(name) == slot


def test_a_pause_reads_as_the_slot_the_reason_and_its_end() -> None:
    p = pause.Pause("node3/2", "image node1:6001/x:1 not found", "2026-11-30T21:00:00.000000Z", 3)
    assert p.line() == (
        "node3/2 paused: image node1:6001/x:1 not found (until 2026-11-30T21:00:00.000000Z)"
    )
    assert render_paused([p]) == f"paused slots:\n  {p.line()}"
    assert render_paused([]) == "paused slots: none"


@pytest.mark.parametrize(
    "bad",
    [
        {"pause_after": 0},
        {"pause_seconds": 0},
        {"executor_retries": 0},
        {"pause_seconds": 60, "pause_max_seconds": 30},
    ],
)
def test_pause_settings_out_of_range_are_refused(bad) -> None:
    with pytest.raises(ConfigError):
        Settings(**bad)


def test_the_report_lists_the_runs_paused_slots_escaped(tmp_path: Path) -> None:
    line = "node3/2 paused: image <b>x</b> not found (until 2026-11-30T21:00:00.000000Z)"
    summary = {"run_id": "r1", "total": 0, "done": 0, "jobs": [], "paused_slots": [line]}
    page = write_report(summary, tmp_path).read_text()
    assert "Paused slots (1)" in page
    assert "image &lt;b&gt;x&lt;/b&gt; not found" in page
    page = write_report({**summary, "paused_slots": []}, tmp_path / "none").read_text()
    assert "Paused slots" not in page
