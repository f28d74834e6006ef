"""Submitting runs against a real Redis: a run id is bound to its settings, a new source with
the same keys is new work, and a submit killed in the middle of its enqueue is completed by the
next submit (or noticed by `glue wait`) without queueing any scenario twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glue.jobs.runstate import KEY_PREFIX
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import REPO, Engine, wait_for

# (flag, first value, second value): each is a setting the run is bound to.
CHANGES = [
    ("--image", "simfleet/executor:a", "simfleet/executor:b"),
    ("--command", "python3 {scenario}", "python3 -u {scenario}"),
    ("--executor", "docker", "process"),
    ("--timeout", "60", "61"),
    ("--cpus", "1", "2"),
    ("--memory", "256m", "512m"),
    ("--gpus", "0", "1"),
    ("--pids-limit", "100", "200"),
    ("--shm-size", "64m", "128m"),
    ("--reduce", "count", "concat"),
]
MANY = 12_000


def files(n: int) -> dict[str, str]:
    return {f"s{i:05d}.py": "print(1)\n" for i in range(n)}


def queued_ids(engine: Engine) -> list[str]:
    return [j.decode() for j in engine.conn.lrange(f"rq:queue:{engine.env['GLUE_QUEUE']}", 0, -1)]


def one_line_error(engine: Engine, *args: str) -> str:
    code, out, err = engine.glue(*args)
    assert code != 0 and out == ""
    assert len(err.splitlines()) == 1, err
    return err.strip()


@pytest.mark.parametrize(("flag", "first", "second"), CHANGES, ids=[c[0] for c in CHANGES])
def test_a_run_resubmitted_with_another_setting_is_refused_with_what_changed(
    engine: Engine, tmp_path: Path, flag: str, first: str, second: str
) -> None:
    source = scenarios.write(tmp_path / "scenarios", files(2))
    run_id = engine.run_id("bound")
    code, _, err = engine.glue("run", str(source), "--run-id", run_id, flag, first)
    assert code == 0, err
    line = one_line_error(engine, "run", str(source), "--run-id", run_id, flag, second)
    name = flag[2:].replace("-", "_")
    assert line.startswith(f"glue: error: run {run_id!r} was submitted with other settings (")
    assert f"{name} " in line and " -> " in line and line.endswith("or use a new run id")
    assert len(queued_ids(engine)) == 2
    # The same settings again: allowed, and nothing is queued twice.
    code, _, err = engine.glue("run", str(source), "--run-id", run_id, flag, first)
    assert code == 0 and "0 queued, 2 already queued or done" in err, err


def test_another_source_is_refused_and_retries_may_change(engine: Engine, tmp_path: Path) -> None:
    one = scenarios.write(tmp_path / "one", files(2))
    two = scenarios.write(tmp_path / "two", files(2))
    run_id = engine.run_id("source")
    assert engine.glue("run", str(one), "--run-id", run_id, "--retries", "0")[0] == 0
    line = one_line_error(engine, "run", str(two), "--run-id", run_id)
    assert f"source '{one}' -> '{two}'" in line
    code, _, err = engine.glue("run", str(one), "--run-id", run_id, "--retries", "3")
    assert code == 0, err


def test_a_new_source_with_the_same_keys_is_queued(engine: Engine, tmp_path: Path) -> None:
    """The run's state deleted (or expired) while its jobs are still in Redis: the run id used
    again for another source queues that source's scenarios, not "0 queued"."""
    one = scenarios.write(tmp_path / "one", files(3))
    two = scenarios.write(tmp_path / "two", files(3))
    run_id = engine.run_id("again")
    assert engine.glue("run", str(one), "--run-id", run_id)[0] == 0
    engine.conn.delete(*engine.conn.keys(f"{KEY_PREFIX}{run_id}*"))
    code, _, err = engine.glue("run", str(two), "--run-id", run_id)
    assert code == 0 and "3 scenarios, 3 queued" in err, err
    ids = queued_ids(engine)
    assert len(ids) == 6 and len(set(ids)) == 6


def submit_killed_midway(engine: Engine, source: Path, run_id: str) -> int:
    """`glue run` in a process of its own, SIGKILLed once some but not all jobs are queued;
    how many were."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "glue", "run", str(source), "--run-id", run_id],
        env=engine.env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for("the first jobs to be queued", lambda: queued_ids(engine) or proc.poll(), 60)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    time.sleep(0.2)
    queued = len(queued_ids(engine))
    assert 0 < queued < MANY, f"killed too late: {queued} of {MANY} queued"
    return queued


def test_an_interrupted_submit_is_completed_by_the_next(engine: Engine, tmp_path: Path) -> None:
    source = scenarios.write(tmp_path / "scenarios", files(MANY))
    run_id = engine.run_id("killed")
    queued = submit_killed_midway(engine, source, run_id)
    assert len(engine.state(run_id).jobs()) == MANY  # listed in the run before any was queued

    code, _, err = engine.glue("run", str(source), "--run-id", run_id)
    assert code == 0, err
    assert f"{MANY - queued} queued, {queued} already queued or done" in err
    ids = queued_ids(engine)
    assert len(ids) == MANY and len(set(ids)) == MANY
    assert set(ids) == set(engine.state(run_id).jobs().values())


def test_wait_notices_what_an_interrupted_submit_left_and_queues_it(
    engine: Engine, tmp_path: Path
) -> None:
    source = scenarios.write(tmp_path / "scenarios", files(MANY))
    run_id = engine.run_id("noticed")
    queued = submit_killed_midway(engine, source, run_id)

    code, _, err = engine.glue("wait", run_id, "--timeout", "0.5")
    assert code == 3, err
    assert (
        f"glue: run {run_id}: {MANY - queued} scenario(s) had no job and no outcome "
        f"(an interrupted submit, or lost in a failover): queued them again in "
        f"{engine.env['GLUE_QUEUE']!r}"
    ) in err
    ids = queued_ids(engine)
    assert len(ids) == MANY and len(set(ids)) == MANY


def test_two_submits_of_one_run_at_once_queue_each_scenario_once(
    engine: Engine, tmp_path: Path
) -> None:
    source = scenarios.write(tmp_path / "scenarios", files(MANY))
    run_id = engine.run_id("twice")
    argv = [sys.executable, "-m", "glue", "run", str(source), "--run-id", run_id]
    procs = [
        subprocess.Popen(argv, env=engine.env, cwd=REPO, stderr=subprocess.PIPE) for _ in range(2)
    ]
    errs = [p.communicate()[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    ids = queued_ids(engine)
    assert len(ids) == MANY and len(set(ids)) == MANY
