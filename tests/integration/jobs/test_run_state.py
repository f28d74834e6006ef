"""The run's state in Redis under faults and at scale, with real Redis and real workers:
an outcome the reducers cannot take is recorded as error (the run still completes), a fold
waits out a Redis at maxmemory, an attempt that lost its worker but kept running cannot
replace the recorded attempt's results, `glue runs` lists and deletes runs, `--rerun`
re-queues only the chosen statuses, and a finished job costs Redis under 1 KB."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import redis
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.worker import Worker

from glue.jobs import runstate, submit
from glue.jobs.naming import job_id
from glue.jobs.runstate import RunState
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine, read_json
from tests.support.redis_server import RedisServer


def first_id(engine: Engine, run_id: str, scenario: str) -> str:
    """The job id of a scenario's first attempt series (a rerun's ids are suffixed)."""
    return job_id(run_id, engine.state(run_id).spec()["source"], scenario)


# A run that cannot record its outcomes never completes: fail after this, do not hang.
COMPLETE_SECONDS = 90
BYTES_PER_JOB = 1024


def values(n: int) -> dict[str, str]:
    return {f"v{i:02d}.py": scenarios.script(scenarios.VALUE, n=i) for i in range(1, n + 1)}


def start(engine: Engine, source: Path, run_id: str, results: Path, *extra: str) -> str:
    args = ["run", str(source), "--run-id", run_id, "--executor", "process"]
    code, _, err = engine.glue(*args, "--results", str(results), *extra)
    assert code == 0, err
    return err


@pytest.mark.parametrize(
    "reducer, why",
    [
        ("python:glue_only_on_the_submitter:f", "cannot import glue_only_on_the_submitter"),
        ("python:tests.integration.jobs.folds:as_set", "TypeError: Object of type set"),
        ("python:tests.integration.jobs.folds:as_decimal", "TypeError: Object of type Decimal"),
    ],
)
def test_an_outcome_the_reducers_cannot_take_is_recorded_as_error(
    engine: Engine, tmp_path: Path, monkeypatch, reducer: str, why: str
) -> None:
    # The module imports here, where the run is submitted, but not on the workers.
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "glue_only_on_the_submitter.py").write_text(
        "def f(acc, r):\n    return 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    run_id = engine.run_id("unfoldable")
    source = scenarios.write(tmp_path / "scenarios", values(3))
    engine.start_workers("--slots", "2")
    start(engine, source, run_id, tmp_path / "results", "--reduce", "count", "--reduce", reducer)

    summary = engine.wait_complete(run_id, timeout=COMPLETE_SECONDS)
    assert summary["counts"] == {"error": 3}
    assert summary["reduced"]["count"] == {"error": 3}
    for failure in summary["failures"]:
        # Recorded at once, not by RQ's failure path after running the scenario again.
        assert failure["attempt"] == 1
        assert "its succeeded outcome could not be folded" in failure["error"]
        assert why in failure["error"]
    # glue wait ends (exit 0), like run.yml's wait does.
    code, out, _ = engine.glue("wait", run_id, "--timeout", "10")
    assert code == 0, out


def test_a_fold_waits_for_a_redis_at_maxmemory(tmp_path: Path, monkeypatch) -> None:
    server = RedisServer(tmp_path)
    server.start()
    conn = redis.Redis.from_url(server.url())
    try:
        state = RunState(conn, "full")
        spec = {"reduce": ["count", "sum:value"], "results": str(tmp_path / "results")}
        state.define(spec)
        state.register({"a.py": "job-a", "b.py": "job-b"})
        outcome = {"scenario": "a.py", "job_id": "job-a", "status": "succeeded", "attempt": 1}
        conn.config_set("maxmemory", 1)  # every write that may grow memory is refused
        recorded: list[bool] = []
        folding = threading.Thread(
            target=lambda: recorded.append(state.fold(outcome, {"value": 5}, spec["reduce"]))
        )
        folding.start()
        time.sleep(1.5)
        assert not recorded and folding.is_alive()
        assert conn.hlen(state.outcomes_key) == 0
        conn.config_set("maxmemory", 0)
        folding.join(timeout=30)
        assert recorded == [True]
        values, _, _ = state.reduced()
        assert values == {"count": {"succeeded": 1}, "sum:value": 5}

        # Past its patience the fold says so (RQ would only log it): never a silent loss.
        monkeypatch.setattr(runstate, "FOLD_PATIENCE_SECONDS", 0.5)
        conn.config_set("maxmemory", 1)
        other = {**outcome, "scenario": "b.py", "job_id": "job-b"}
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            state.fold(other, {"value": 1}, spec["reduce"])
        conn.config_set("maxmemory", 0)
        assert state.fold(other, {"value": 1}, spec["reduce"])
        assert state.complete()
    finally:
        conn.close()
        server.stop()


def test_a_run_completes_only_once_every_recorded_upload_is_in_place(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    conn = redis.Redis.from_url(server.url())
    try:
        state = RunState(conn, "placing")
        state.define({"reduce": ["count"], "results": str(tmp_path / "results")})
        state.register({"a.py": "job-a", "b.py": "job-b"})
        uploaded = {"job_id": "job-a", "status": "succeeded", "attempt": 1, "uploaded": True}
        assert state.fold({**uploaded, "scenario": "a.py"}, {}, ["count"])
        # An outcome with nothing uploaded has nothing to place: done at once.
        assert state.fold(
            {"scenario": "b.py", "job_id": "job-b", "status": "error", "attempt": 1},
            None,
            ["count"],
        )
        # Recorded, but its upload is not in place yet: the run is not complete.
        assert state.progress() == (1, 2)
        assert not state.complete()
        assert conn.hget(state.key, "completed") is None
        # What a later attempt finds when the recording one died before placing.
        assert state.unplaced_outcome("a.py")["attempt"] == 1
        assert state.unplaced_outcome("b.py") is None

        state.placed("a.py")
        assert state.progress() == (2, 2)
        assert state.complete()
        assert conn.hget(state.key, "completed") is not None
        assert state.unplaced_outcome("a.py") is None
        # The run's keys expire once it is complete (the unplaced set is empty and gone).
        assert conn.ttl(state.key) > 0
        assert not conn.exists(state.unplaced_key)
    finally:
        conn.close()
        server.stop()


# The first attempt keeps running after its worker stops answering (a partition); the retry
# on the other worker answers at once.
PARTITIONED = """if job["attempt"] == 1:
    note_pid({pid_dir!r})
    time.sleep({sleep})
    answer({{"value": 1}})
else:
    answer({{"value": 2}})
"""


def test_a_late_upload_of_a_lost_attempt_is_ignored(
    engine: Engine, tmp_path: Path, shared_tmp: Path
) -> None:
    if "GLUE_JOB_USERS" not in engine.env:
        pytest.skip("needs slot accounts (root) to run process jobs")
    run_id = engine.run_id("partition")
    pid_dir = shared_tmp / "pids"
    pid_dir.mkdir(mode=0o777)
    pid_dir.chmod(0o1777)
    source = scenarios.write(
        tmp_path / "scenarios",
        {"p.py": scenarios.script(PARTITIONED, pid_dir=str(pid_dir), sleep=25)},
    )
    results = tmp_path / "results"
    first = engine.start_workers("--slots", "1")
    start(engine, source, run_id, results, "--retries", "1")
    engine.wait("the first attempt to run", (pid_dir / "p.py.1").exists)
    job = Job.fetch(first_id(engine, run_id, "p.py"), engine.conn, serializer=JSONSerializer)
    stalled = Worker.find_by_key(f"rq:worker:{job.worker_name}", engine.conn).pid
    os.kill(stalled, signal.SIGSTOP)  # no more heartbeats; its scenario goes on
    try:
        # Another host, in effect: a work folder and a slot account of its own.
        engine.env["GLUE_WORKDIR"] = str(shared_tmp / "other-host")
        engine.env["GLUE_JOB_USERS"] = engine.env["GLUE_JOB_USERS"].replace("{slot}", "3")
        engine.start_workers("--slots", "1")
        summary = engine.wait_complete(run_id, timeout=COMPLETE_SECONDS)
    finally:
        os.kill(stalled, signal.SIGCONT)  # the partition heals: the first attempt ends late
    late = results / run_id / "p.py" / "attempts" / "1" / "outcome.json"
    engine.wait("the lost attempt's late upload", late.exists, timeout=60)
    first.stop()
    final = results / run_id / "p.py"
    assert summary["jobs"][0]["attempt"] == 2
    assert read_json(final / "results" / "result.json") == {"value": 2}
    assert read_json(final / "outcome.json")["attempt"] == 2
    # The lost attempt's upload stayed in its own prefix.
    assert read_json(final / "attempts" / "1" / "results" / "result.json") == {"value": 1}
    assert engine.state(run_id).summary()["counts"] == {"succeeded": 1}


def test_glue_runs_lists_a_run_and_deletes_it_with_its_results(
    engine: Engine, tmp_path: Path
) -> None:
    run_id = engine.run_id("listed")
    source = scenarios.write(
        tmp_path / "scenarios", {**values(2), "fail.py": scenarios.script(scenarios.FAIL)}
    )
    results = tmp_path / "results"
    engine.start_workers("--slots", "2")
    start(engine, source, run_id, results, "--retries", "0")
    engine.wait_complete(run_id)

    code, out, err = engine.glue("runs", "--json")
    assert code == 0, err
    row = next(r for r in json.loads(out) if r["run_id"] == run_id)
    assert (row["state"], row["done"], row["total"]) == ("complete", 3, 3)
    assert row["counts"] == {"failed": 1, "succeeded": 2}
    # Three jobs' worth, plus about one for the run's own seven keys.
    assert 0 < row["redis_bytes"] < 4 * BYTES_PER_JOB
    code, out, _ = engine.glue("runs")
    assert code == 0 and run_id in out and "complete" in out

    failed = first_id(engine, run_id, "fail.py")
    assert Job.exists(failed, engine.conn)  # failure records stay a while, for debugging
    code, out, err = engine.glue("runs", "delete", run_id, "--results")
    assert code == 0, err
    assert list(engine.conn.scan_iter(match=f"glue:run:{run_id}*")) == []
    assert not Job.exists(failed, engine.conn)
    assert not (results / run_id).exists()
    code, out, _ = engine.glue("runs", "--json")
    assert run_id not in {r["run_id"] for r in json.loads(out)}
    code, _, err = engine.glue("runs", "delete", run_id)
    assert code == 1 and err.strip() == f"glue: error: no run {run_id!r} in this Redis"


# Fails until its marker file exists.
FLAKY = """if not os.path.exists({marker!r}):
    print("marker missing", flush=True)
    sys.exit(4)
answer({{"value": 50}})
"""


def test_rerun_requeues_only_the_chosen_statuses_and_keeps_every_attempt(
    engine: Engine, tmp_path: Path, shared_tmp: Path
) -> None:
    run_id = engine.run_id("rerun")
    marker = shared_tmp / "ready"
    files = {**values(3), "flaky.py": scenarios.script(FLAKY, marker=str(marker))}
    source = scenarios.write(tmp_path / "scenarios", files)
    results = tmp_path / "results"
    engine.start_workers("--slots", "2")
    reduce = ["--reduce", "count", "--reduce", "sum:value", "--reduce", "concat"]
    start(engine, source, run_id, results, "--retries", "1", *reduce)
    first = engine.wait_complete(run_id)
    assert first["counts"] == {"failed": 1, "succeeded": 3}
    assert first["reduced"]["sum:value"] == 6
    before = {o["scenario"]: o for o in first["jobs"]}

    code, _, err = engine.glue("run", str(source), "--run-id", run_id, "--rerun", "succeeded")
    assert code == 1 and err.count("\n") == 1 and "succeeded scenarios are not rerun" in err
    marker.write_text("")
    code, out, err = engine.glue(
        "run",
        str(source),
        "--run-id",
        run_id,
        "--executor",
        "process",
        "--rerun",
        "failed,error",
        "--results",
        str(results),
        *reduce,
        "--wait",
    )
    assert code == 0, err
    assert "1 queued" in err
    summary = engine.state(run_id).summary()
    assert summary["complete"] and summary["counts"] == {"succeeded": 4}
    assert summary["reduced"]["count"] == {"succeeded": 4}
    assert summary["reduced"]["sum:value"] == 56
    assert summary["reduced"]["concat"][0] == {"value": 50}  # flaky.py sorts first
    assert json.loads(out) == summary["reduced"]
    # Every other outcome is the first round's; flaky's attempts are all in its history.
    for scenario in values(3):
        assert {o["scenario"]: o for o in summary["jobs"]}[scenario] == before[scenario]
    history = summary["attempts"]["flaky.py"]
    assert [a["attempt"] for a in history] == [1, 2]
    assert all(a["status"] == "failed" and a["host"] for a in history)
    assert all(a["error"] for a in history)
    assert {o["scenario"]: o for o in summary["jobs"]}["flaky.py"]["attempt"] == 3
    assert read_json(results / run_id / "flaky.py" / "results" / "result.json") == {"value": 50}
    assert read_json(results / run_id / "summary.json")["counts"] == {"succeeded": 4}
    # Nothing left to rerun: nothing is queued.
    code, _, err = engine.glue(
        "run",
        str(source),
        "--run-id",
        run_id,
        "--executor",
        "process",
        "--rerun",
        "failed",
        "--results",
        str(results),
        *reduce,
    )
    assert code == 0 and "0 queued" in err

    # Deleting the run removes the RQ records of both rounds of flaky.py.
    first = first_id(engine, run_id, "flaky.py")
    assert Job.exists(first, engine.conn)  # its failure record, kept a day
    code, _, err = engine.glue("runs", "delete", run_id)
    assert code == 0 and not Job.exists(first, engine.conn), err
    assert not Job.exists(f"{first}-r1", engine.conn)


def test_a_finished_job_costs_redis_under_a_kilobyte_and_its_run_expires(
    engine: Engine, tmp_path: Path
) -> None:
    run_id = engine.run_id("small")
    n = 150
    source = scenarios.write(tmp_path / "scenarios", {f"t{i:03d}.py": "" for i in range(n)})
    engine.start_workers("--slots", "4")
    used = engine.conn.info("memory")["used_memory"]
    start(
        engine,
        source,
        run_id,
        tmp_path / "results",
        "--command",
        "true",
        "--reduce",
        "count",
        "--reduce",
        "sum:value",
        "--reduce",
        "concat",
        "--run-keep-days",
        "2",
    )
    engine.wait_complete(run_id, timeout=240)
    state = engine.state(run_id)
    # RQ keeps no job record once its outcome is folded, beyond a few seconds (KEEP_SECONDS).
    engine.wait(
        "RQ to drop the finished jobs",
        lambda: not list(engine.conn.scan_iter(match=f"rq:job:{run_id}-*")),
        timeout=submit.KEEP_SECONDS + 30,
    )
    run_keys = [k for k in engine.conn.scan_iter(match=f"glue:run:{run_id}*")]
    job_keys = [k for k in engine.conn.scan_iter(match=f"rq:*{run_id}-*")]
    # The queue's own keys (registries) count too: they must not keep an id per job.
    queue_keys = [k for k in engine.conn.scan_iter(match=f"rq:*{engine.env['GLUE_QUEUE']}*")]
    stored = sum(
        engine.conn.memory_usage(k, samples=0) or 0 for k in run_keys + job_keys + queue_keys
    )
    grown = engine.conn.info("memory")["used_memory"] - used
    print(f"{stored / n:.0f} bytes per job in its keys; used_memory grew {grown / n:.0f}/job")
    # Of RQ's records only a day-long "first seen" mark of some jobs' intermediate queue
    # remains, counted in the bytes above.
    assert not [k for k in job_keys if b":first_seen:" not in k]
    assert stored / n <= BYTES_PER_JOB
    assert state.info()["redis_bytes"] <= stored
    for key in run_keys:
        assert 2 * 86400 - 60 < engine.conn.ttl(key) <= 2 * 86400
