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
from rq.queue import Queue
from rq.serializers import JSONSerializer
from rq.worker import Worker

from glue.jobs import pause
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


def registered(engine: Engine, slots: int) -> None:
    """Wait for `slots` workers on the queue: a slot alone on it has nowhere to hand jobs."""
    queue = Queue(engine.env["GLUE_QUEUE"], connection=engine.conn, serializer=JSONSerializer)
    engine.wait(f"{slots} workers", lambda: len(Worker.all(queue=queue)) == slots)


def jobs(engine: Engine, run_id: str) -> dict[str, Job]:
    """The run's RQ jobs by scenario."""
    ids = engine.state(run_id).jobs()
    return {s: Job.fetch(i, engine.conn, serializer=JSONSerializer) for s, i in ids.items()}


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
    engine.start_workers("--slots", "1")
    # Long enough to outlast the run, so status still shows it at the end.
    broken_pool = broken_workers(engine, broken, GLUE_PAUSE_SECONDS="300")
    registered(engine, 2)
    # No retries: an executor error that spent one would end its scenario in error.
    submit(engine, values(tmp_path / "s", 8), run_id, tmp_path / "results")
    summary = engine.wait_complete(run_id)

    assert summary["counts"] == {"succeeded": 8}
    assert set(summary["hosts"]) == {socket.gethostname()}
    slot = f"{broken}/1"
    paused = pause.paused(engine.conn, slot)
    assert paused is not None and paused.errors == 3
    assert paused.reason.startswith("Docker engine unreachable: ")
    assert summary["paused_slots"] == [paused.line()]
    metas = [job.meta for job in jobs(engine, run_id).values()]
    assert sum(m.get("failed_hosts") == [broken] for m in metas) == 3

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
    registered(engine, 3)
    submit(engine, values(tmp_path / "s", 8), run_id, tmp_path / "results")
    summary = engine.wait_complete(run_id)
    assert summary["counts"] == {"succeeded": 8}
    assert set(summary["hosts"]) == {socket.gethostname()}


def test_once_every_host_failed_it_the_error_is_the_outcome(engine: Engine, tmp_path: Path) -> None:
    """Two broken hosts: the job goes from one to the other, then ends in error with the
    reason, under the run's own retries (none here)."""
    run_id = engine.run_id("nowhere")
    hosts = [f"broken{n}-{engine.env['GLUE_QUEUE']}" for n in (1, 2)]
    for host in hosts:
        broken_workers(engine, host, GLUE_PAUSE_SECONDS="1", GLUE_PAUSE_AFTER="10")
    registered(engine, 2)
    submit(engine, values(tmp_path / "s", 1), run_id, tmp_path / "results")
    summary = engine.wait_complete(run_id, timeout=60)
    (failure,) = summary["failures"]
    assert failure["status"] == "error"
    assert failure["error"].startswith("ExecutorFailed: broken")
    assert "/1: Docker engine unreachable: " in failure["error"]
    meta = jobs(engine, run_id)["v00.py"].meta
    assert sorted(meta["failed_hosts"]) == hosts
    assert meta["attempt"] == 2
    assert not summary["paused_slots"]


def test_alone_a_slot_that_cannot_run_a_job_ends_it_at_once(engine: Engine, tmp_path: Path) -> None:
    """No other host: no hand-back, no wait; the error is the outcome (as before pausing)."""
    run_id = engine.run_id("alone")
    broken_workers(engine, f"alone-{engine.env['GLUE_QUEUE']}")
    submit(engine, values(tmp_path / "s", 2), run_id, tmp_path / "results")
    summary = engine.wait_complete(run_id, timeout=30)
    assert summary["counts"] == {"error": 2}


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


def test_a_host_that_failed_a_job_hands_it_back_at_once_and_it_costs_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    """The broken slot fails each job once (its first retry goes at once), then keeps taking
    them back while the healthy slot is busy: each such hand-back must requeue the job with
    no wait - a growing wait here would be 300 s - and spend neither the run's retries nor
    the job's executor retries, nor count as the slot's error."""
    run_id = engine.run_id("handback")
    broken = f"broken-{engine.env['GLUE_QUEUE']}"
    engine.start_workers("--slots", "1")
    broken_workers(engine, broken, GLUE_PAUSE_AFTER="50", GLUE_PAUSE_SECONDS="300")
    registered(engine, 2)
    files = {
        f"s{n}.py": scenarios.script('time.sleep(2)\nanswer({{"value": {n}}})\n', n=n)
        for n in range(4)
    }
    started = time.monotonic()
    submit(engine, scenarios.write(tmp_path / "s", files), run_id, tmp_path / "r", retries=1)
    summary = engine.wait_complete(run_id, timeout=120)
    assert time.monotonic() - started < 100

    assert summary["counts"] == {"succeeded": 4}
    assert set(summary["hosts"]) == {socket.gethostname()}
    ran = jobs(engine, run_id).values()
    failed_once = [j for j in ran if j.meta.get("failed_hosts") == [broken]]
    assert failed_once, "the broken slot took no job: nothing was tested"
    handed_back = [j for j in failed_once if (j.number_of_retries or 0) > 1]
    assert handed_back, "no job was handed back: nothing was tested"
    for job in failed_once:
        assert job.meta["executor_errors"] == 1
        assert job.meta["attempt"] == 2
        assert job.retries_left == 1
    errors = engine.conn.get(f"{pause.SLOT_PREFIX}{broken}/1:errors")
    assert int(errors) == len(failed_once)
    assert pause.paused(engine.conn, f"{broken}/1") is None
    print(f"{len(failed_once)} jobs failed on {broken}, {len(handed_back)} handed back after")
