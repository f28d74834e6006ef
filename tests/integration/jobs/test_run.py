"""A run of 20 scenarios on 2 job slots, in containers and as processes: one scenario fails,
one runs past its timeout, and the worker running a third is killed with SIGKILL. Every
scenario still ends with exactly one result, and the reductions equal the values computed
directly from those results."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
from pathlib import Path

import pytest
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.worker import Worker

from glue.config import Settings
from glue.jobs.runstate import RunState
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine, containers_of, read_json

REDUCERS = [
    "sum:value",
    "mean:value",
    "min:value",
    "max:value",
    "sum:m.score",
    "count",
    "concat",
    "python:tests.integration.jobs.folds:squares",
]
TIMEOUT = 4
TIMESTAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z ")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def slow_job_running(engine: Engine, run_id: str, executor: str, pid_dir: Path) -> Job | None:
    """The slow scenario's job once its first attempt is really running."""
    slow = RunState(engine.conn, run_id).jobs()["slow.py"]
    job = Job.fetch(slow, engine.conn, serializer=JSONSerializer)
    if job.get_status() != JobStatus.STARTED:
        return None
    if executor == "process":
        return job if (pid_dir / "slow.py.1").exists() else None
    running = [c for c in containers_of(run_id) if c.labels.get("org.simfleet.glue.job") == job.id]
    return job if running and running[0].status == "running" else None


@pytest.mark.parametrize("executor", ["docker", "process"])
def test_twenty_scenarios_fail_time_out_lose_a_worker_and_reduce(
    engine: Engine, executor: str, tmp_path: Path, shared_tmp: Path, request
) -> None:
    run_id = engine.run_id(executor)
    pid_dir = shared_tmp / "pids"
    pid_dir.mkdir(mode=0o777)
    pid_dir.chmod(0o1777)
    source = scenarios.write(tmp_path / "scenarios", scenarios.twenty(pid_dir))
    results = tmp_path / "results"
    limits = []
    if executor == "docker":
        request.getfixturevalue("executor_image")
        limits = ["--memory", "256m", "--cpus", "1"]
    engine.start_workers("--slots", "2")

    args = ["run", str(source), "--run-id", run_id, "--executor", executor, "--retries", "1"]
    args += ["--timeout", str(TIMEOUT), "--results", str(results), *limits]
    args += [x for spec in REDUCERS for x in ("--reduce", spec)]
    code, _, err = engine.glue(*args)
    assert code == 0, err
    assert "20 scenarios, 20 queued, 0 already queued or done" in err
    # Submitting the same run again queues nothing new.
    code, _, err = engine.glue(*args)
    assert code == 0 and "0 queued, 20 already queued or done" in err, err

    # SIGKILL the worker process running slow.py; its horse removes the container or process.
    job = engine.wait("slow.py to run", lambda: slow_job_running(engine, run_id, executor, pid_dir))
    victim = job.worker_name
    os.kill(Worker.find_by_key(f"rq:worker:{victim}", engine.conn).pid, signal.SIGKILL)
    if executor == "docker":
        engine.wait(
            "the killed job's container to go",
            lambda: all(c.labels["org.simfleet.glue.job"] != job.id for c in containers_of(run_id)),
            timeout=30,
        )
    else:
        pid = int((pid_dir / "slow.py.1").read_text())
        engine.wait("the killed job's process to go", lambda: not alive(pid), timeout=30)

    summary = engine.wait_complete(run_id)
    outcomes = {o["scenario"]: o for o in engine.state(run_id).outcomes().values()}

    # Exactly one result per scenario, in results/<run>/<scenario>/.
    run_dir = results / run_id
    written = sorted(p.parent.name for p in run_dir.glob("*/outcome.json"))
    assert written == sorted(p.name for p in source.glob("*.py"))
    assert summary["total"] == summary["done"] == 20 and summary["complete"]
    assert summary["counts"] == {"failed": 1, "succeeded": 18, "timed_out": 1}
    engine.wait("the run summary", (run_dir / "summary.json").exists)
    assert read_json(run_dir / "summary.json") == summary

    # The worker loss: the slow scenario ran again, on another worker, and succeeded.
    slow = outcomes["slow.py"]
    assert (slow["status"], slow["attempt"]) == ("succeeded", 2)
    assert slow["worker"] != victim

    # The failure: reported failed with its log, after its retry.
    fail = outcomes["fail.py"]
    assert (fail["status"], fail["exit_code"], fail["attempt"]) == ("failed", 3, 2)
    assert "about to fail" in fail["log_tail"]
    log = (run_dir / "fail.py" / "logs" / "output.log").read_text().splitlines()
    assert log and all(TIMESTAMPED.match(line) for line in log)
    assert "about to fail" in log[-1]
    assert "fail.py" in {f["scenario"] for f in summary["failures"]}

    # The timeout: reported timed out, its container or processes gone.
    sleeper = outcomes["sleeper.py"]
    assert (sleeper["status"], sleeper["error"]) == ("timed_out", f"timed out after {TIMEOUT}s")
    if executor == "docker":
        assert containers_of(run_id) == []
    else:
        pids = [int(p.read_text()) for p in pid_dir.iterdir()]
        assert len(pids) == 3  # two sleeper attempts and slow's first
        assert not any(alive(pid) for pid in pids)

    # Reductions equal the values computed from the results themselves.
    answers = {
        p.parent.parent.name: read_json(p) for p in sorted(run_dir.glob("*/results/result.json"))
    }
    assert len(answers) == 18
    values = [a["value"] for a in answers.values()]
    assert sorted(values) == [0, *range(1, 17), 100]
    reduced = summary["reduced"]
    assert reduced["sum:value"] == sum(values)
    assert reduced["mean:value"] == pytest.approx(statistics.mean(values))
    assert reduced["min:value"] == min(values)
    assert reduced["max:value"] == max(values)
    assert reduced["sum:m.score"] == sum(a["m"]["score"] for a in answers.values() if "m" in a)
    assert reduced["count"] == summary["counts"]
    assert reduced["concat"] == [answers[s] for s in sorted(answers)]
    assert reduced["python:tests.integration.jobs.folds:squares"] == sum(v * v for v in values)
    assert summary["reduce_notes"] == ["sum:m.score skipped limits.py: no field 'm.score'"]
    assert summary["reduce_notes_total"] == 1

    if executor == "docker":
        # --memory and --cpus reached the container, which ran as the worker's uid, or as
        # job_uid when the worker is root.
        assert answers["limits.py"] == {
            "value": 0,
            "memory_limit": 256 * 1024 * 1024,
            "cpus": 1.0,
            "uid": os.getuid() or Settings().job_uid,
        }

    # glue result and glue status agree with the summary; a resubmission queues nothing.
    code, out, _ = engine.glue("result", run_id)
    assert code == 0 and json.loads(out) == summary
    code, out, _ = engine.glue("status", run_id, "--json")
    assert code == 0
    assert json.loads(out)["states"] == summary["counts"]
    assert sum(json.loads(out)["hosts"][socket.gethostname()].values()) == 20
    code, _, err = engine.glue(*args)
    assert code == 0 and "0 queued, 20 already queued or done" in err
