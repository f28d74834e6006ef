"""A slot that cannot run jobs pauses itself and its jobs go to a slot that can (real Redis, real
`glue worker` processes, real Docker).

The broken worker is a real worker whose Docker engine is unreachable (DOCKER_HOST names a
socket that does not exist): every job it takes ends in an executor error, as on a host whose
engine is down. It goes by a host name of its own (`host_name`), so the healthy worker beside
it counts as another host.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from glue.jobs import pause
from glue.jobs.naming import job_id
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine, Workers

pytestmark = pytest.mark.usefixtures("executor_image")

NO_ENGINE = "unix:///nonexistent/simfleet-test/docker.sock"


@contextmanager
def settings(engine: Engine, **extra: str) -> Iterator[None]:
    """Workers started inside get these environment variables on top of the engine's."""
    saved = engine.env
    engine.env = {**saved, **extra}
    try:
        yield
    finally:
        engine.env = saved


def broken_workers(engine: Engine, host: str, slots: int = 1, **extra: str) -> Workers:
    with settings(engine, DOCKER_HOST=NO_ENGINE, GLUE_HOST_NAME=host, **extra):
        return engine.start_workers("--slots", str(slots))


def values(folder: Path, count: int) -> Path:
    files = {f"v{n:02d}.py": scenarios.script(scenarios.VALUE, n=n) for n in range(count)}
    return scenarios.write(folder, files)


def submit(engine: Engine, source: Path, run_id: str, results: Path, retries: int = 0) -> None:
    code, _, err = engine.glue(
        "run", str(source), "--run-id", run_id, "--executor", "docker",
        "--retries", str(retries), "--results", str(results),
    )  # fmt: skip
    assert code == 0, err


def test_a_broken_slot_pauses_and_a_healthy_one_runs_every_scenario(
    engine: Engine, tmp_path: Path
) -> None:
    run_id = engine.run_id("pause")
    broken = f"broken-{engine.env['GLUE_QUEUE']}"
    # Long enough to outlast the run, so status still shows it at the end.
    broken_pool = broken_workers(engine, broken, GLUE_PAUSE_SECONDS="300")
    # No retries: an executor error that spent one would end its scenario in error.
    submit(engine, values(tmp_path / "s", 6), run_id, tmp_path / "results")
    slot = f"{broken}/1"
    paused = engine.wait(f"{slot} to pause", lambda: pause.paused(engine.conn, slot))
    assert paused.errors == 3
    assert paused.reason.startswith("Docker engine unreachable: ")

    engine.start_workers("--slots", "1")
    summary = engine.wait_complete(run_id)

    assert summary["counts"] == {"succeeded": 6}
    assert set(summary["hosts"]) == {socket.gethostname()}
    assert summary["paused_slots"] == [paused.line()]
    failed_before = [
        Job.fetch(job_id(run_id, f"v{n:02d}.py"), engine.conn, serializer=JSONSerializer).meta
        for n in range(6)
    ]
    assert sum(m.get("failed_hosts") == [broken] for m in failed_before) >= 3

    code, out, err = engine.glue("status", run_id)
    assert code == 0, err
    assert f"  {slot} paused: Docker engine unreachable: " in out
    assert f"(until {paused.until})" in out
    code, out, err = engine.glue("status", run_id, "--json")
    assert code == 0, err
    shown = {p["slot"]: p for p in json.loads(out)["paused_slots"]}
    assert shown[slot]["reason"] == paused.reason

    # A paused slot is idle: told to stop, it stops at once, not after its pause.
    started = time.monotonic()
    assert broken_pool.stop(timeout=20) == 0, broken_pool.tail()
    assert time.monotonic() - started < 15


def test_next_to_a_healthy_slot_from_the_start_no_scenario_ends_in_error(
    engine: Engine, tmp_path: Path
) -> None:
    """Both take jobs at once; the broken one fails in milliseconds, the healthy one needs
    a container per job, and still every scenario succeeds on the healthy one."""
    run_id = engine.run_id("race")
    broken = f"broken-{engine.env['GLUE_QUEUE']}"
    broken_workers(engine, broken, slots=2)
    engine.start_workers("--slots", "1")
    submit(engine, values(tmp_path / "s", 8), run_id, tmp_path / "results")
    summary = engine.wait_complete(run_id)
    assert summary["counts"] == {"succeeded": 8}
    assert set(summary["hosts"]) == {socket.gethostname()}


def test_with_no_slot_able_to_run_it_a_job_waits_then_ends_in_error(
    engine: Engine, tmp_path: Path
) -> None:
    """Hand-backs are bounded (executor_retries) and wait between tries, which RQ's
    scheduler, run by the workers, honours."""
    run_id = engine.run_id("nowhere")
    broken = f"broken-{engine.env['GLUE_QUEUE']}"
    broken_workers(
        engine, broken, GLUE_EXECUTOR_RETRIES="3", GLUE_PAUSE_SECONDS="1",
        GLUE_PAUSE_AFTER="10",
    )  # fmt: skip
    submit(engine, values(tmp_path / "s", 1), run_id, tmp_path / "results")
    summary = engine.wait_complete(run_id, timeout=60)
    (failure,) = summary["failures"]
    assert failure["status"] == "error"
    assert failure["error"].startswith("ExecutorFailed: gave up after 3 hand-backs: ")
    assert f"{broken}/1: Docker engine unreachable" in failure["error"]
    meta = Job.fetch(job_id(run_id, "v00.py"), engine.conn, serializer=JSONSerializer).meta
    assert meta["failed_hosts"] == [broken]
    assert meta["attempt"] == 4
    # Waits of 0, 1 and 2 s between the four tries.
    assert not summary["paused_slots"]


def test_a_failing_scenario_never_pauses_its_slot(engine: Engine, tmp_path: Path) -> None:
    run_id = engine.run_id("fails")
    host = f"healthy-{engine.env['GLUE_QUEUE']}"
    with settings(engine, GLUE_HOST_NAME=host, GLUE_PAUSE_AFTER="1"):
        engine.start_workers("--slots", "1")
    files = {f"f{n}.py": scenarios.script(scenarios.FAIL) for n in range(3)}
    submit(engine, scenarios.write(tmp_path / "s", files), run_id, tmp_path / "results")
    summary = engine.wait_complete(run_id)
    assert summary["counts"] == {"failed": 3}
    assert summary["paused_slots"] == []
    assert pause.paused(engine.conn, f"{host}/1") is None
