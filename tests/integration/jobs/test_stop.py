"""Stopping a job, or the worker running it, kills and removes its container at once; a
worker told to stop puts its job back in the queue, where it completes later."""

from __future__ import annotations

from pathlib import Path

import pytest
from rq.command import send_stop_job_command
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from glue.jobs.runstate import RunState
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine, containers_of

# Waits on its first attempt, answers at once on the next.
LONG = {"long.py": scenarios.script(scenarios.SLOW, pid_dir="/nonexistent")}


def running_container(run_id: str):
    return [c for c in containers_of(run_id) if c.status == "running"]


def long_job(engine: Engine, run_id: str) -> str:
    return RunState(engine.conn, run_id).jobs()["long.py"]


@pytest.fixture
def submitted(engine: Engine, tmp_path: Path, executor_image: str) -> str:
    source = scenarios.write(tmp_path / "scenarios", LONG)
    run_id = engine.run_id("long")
    code, _, err = engine.glue("run", str(source), "--run-id", run_id, "--retries", "2")
    assert code == 0, err
    return run_id


def test_a_stopped_worker_removes_the_container_and_requeues_the_job(
    engine: Engine, submitted: str
) -> None:
    workers = engine.start_workers("--slots", "1")
    engine.wait("the container to run", lambda: running_container(submitted))
    assert workers.stop() == 0  # SIGTERM; the pool exits once its worker has
    assert containers_of(submitted) == []
    job = Job.fetch(long_job(engine, submitted), engine.conn, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.QUEUED
    assert job.retries_left == 2  # put back, not retried: no retry spent
    engine.start_workers("--slots", "1", "--burst")
    summary = engine.wait_complete(submitted)
    assert summary["counts"] == {"succeeded": 1}
    assert summary["jobs"][0]["attempt"] == 2


def test_a_stopped_job_is_reported_stopped_and_its_container_removed(
    engine: Engine, submitted: str
) -> None:
    engine.start_workers("--slots", "1")
    engine.wait("the container to run", lambda: running_container(submitted))
    send_stop_job_command(engine.conn, long_job(engine, submitted), serializer=JSONSerializer)
    summary = engine.wait_complete(submitted, timeout=30)
    assert summary["counts"] == {"stopped": 1}
    assert summary["failures"][0]["error"] == "stopped on request"
    assert containers_of(submitted) == []
