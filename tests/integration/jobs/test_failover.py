"""The queue goes away mid-run: workers and `glue wait` ride it out, and the run completes with
exactly one outcome per scenario and the right reduction.

With Sentinel, the primary is killed (SIGKILL) and a replica is promoted; without, the one
Redis is killed and started again after a few seconds. Everything is real: redis-server and
Sentinel processes on loopback, `glue worker` and `glue wait` processes.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from rq.job import Job

from glue.jobs.runstate import RunState
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import REPO, Engine, read_json
from tests.support.redis_server import RedisServer
from tests.support.sentinel import SentinelSet

COUNT = 20
BODY = """time.sleep(0.4)
answer({{"value": {n}}})
"""
RUN_TIMEOUT = 180


def point_engine_at(engine: Engine, monkeypatch, settings: dict[str, str]) -> None:
    """This test's own queue: the engine's workers and in-process glue commands use it."""
    settings = {**settings, "GLUE_QUEUE": f"failover-{uuid.uuid4().hex[:8]}"}
    engine.env.update(settings)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)


def start_run(engine: Engine, tmp_path: Path, name: str) -> tuple[str, Path]:
    files = {f"s{n:02d}.py": scenarios.script(BODY, n=n) for n in range(COUNT)}
    source = scenarios.write(tmp_path / "scenarios", files)
    engine.start_workers("--slots", "2")
    run_id = engine.run_id(name)
    args = ["run", str(source), "--run-id", run_id, "--executor", "process"]
    code, _, err = engine.glue(*args, "--reduce", "sum:value", "--reduce", "count")
    assert code == 0, err
    return run_id, source


def start_wait(engine: Engine, run_id: str, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """`glue wait` as its own process, as run.yml runs it; stderr kept for the checks."""
    err = tmp_path / "wait.err"
    proc = subprocess.Popen(
        [sys.executable, "-m", "glue", "wait", run_id, "--timeout", str(RUN_TIMEOUT)],
        env=engine.env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=err.open("w"),
        text=True,
    )
    return proc, err


def progress(conn: redis.Redis, run_id: str) -> int:
    """Outcomes so far; -1 while the queue does not answer (the test's reads ride it out too)."""
    try:
        return RunState(conn, run_id).progress()[0]
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return -1


def check_run(engine: Engine, conn: redis.Redis, run_id: str, source: Path) -> None:
    summary = RunState(conn, run_id).summary()
    assert summary["counts"] == {"succeeded": COUNT}
    assert summary["reduced"] == {"sum:value": sum(range(COUNT)), "count": {"succeeded": COUNT}}
    run_dir = source.parent / "results" / run_id
    outcomes = sorted(p.parent.name for p in run_dir.glob("*/outcome.json"))
    assert outcomes == sorted(f"s{n:02d}.py" for n in range(COUNT))
    values = sorted(read_json(p)["value"] for p in run_dir.glob("*/results/result.json"))
    assert values == list(range(COUNT))
    for workers in engine.workers:
        log = workers.log.read_text()
        assert "Traceback" not in log, workers.tail()
        assert "quitting" not in log, workers.tail()


def test_primary_killed_mid_run_fails_over_through_the_sentinels(
    engine: Engine, tmp_path: Path, monkeypatch
) -> None:
    group = SentinelSet(tmp_path / "redis", secrets.token_hex(8))
    group.start()
    try:
        point_engine_at(
            engine,
            monkeypatch,
            {"GLUE_REDIS_URL": group.url(), "GLUE_SENTINELS": ",".join(group.sentinels)},
        )
        conn = group.sentinel().master_for("simfleet", socket_timeout=2)
        run_id, source = start_run(engine, tmp_path, "sentinel")
        waiter, wait_err = start_wait(engine, run_id, tmp_path)
        engine.wait("a few jobs to finish", lambda: progress(conn, run_id) >= 4)
        code, out, err = engine.glue("status", run_id, "--json")
        assert code == 0, err
        replica = f"127.0.0.1:{group.replicas[0].port}"
        assert json.loads(out)["queue"]["primary"] == f"127.0.0.1:{group.primary.port}"
        assert [(r["address"], r["state"]) for r in json.loads(out)["queue"]["replicas"]] == [
            (replica, "online")
        ]

        victim = group.kill_primary()
        killed = time.monotonic()
        before = progress(conn, run_id)
        engine.wait(
            "a replica to be promoted", lambda: group.primary_port() not in (None, victim.port)
        )
        promoted = time.monotonic() - killed
        engine.wait("a job to finish after the kill", lambda: progress(conn, run_id) > before)
        first_job = time.monotonic() - killed
        print(f"failover: replica promoted {promoted:.1f} s, next job done {first_job:.1f} s")

        out, _ = waiter.communicate(timeout=RUN_TIMEOUT)
        err = wait_err.read_text()
        assert waiter.returncode == 0, err
        assert f"{COUNT}/{COUNT}" in out
        assert "Traceback" not in err
        check_run(engine, conn, run_id, source)

        code, out, err = engine.glue("status", run_id)
        assert code == 0, err
        assert f"queue: primary 127.0.0.1:{group.primary_port()}, replicas: none" in out
    finally:
        for workers in engine.workers:
            workers.stop()
        group.stop()


def test_one_redis_killed_and_started_again_mid_run(
    engine: Engine, tmp_path: Path, monkeypatch
) -> None:
    server = RedisServer(tmp_path / "redis", password=secrets.token_hex(8))
    server.folder.mkdir()
    server.start()
    try:
        point_engine_at(engine, monkeypatch, {"GLUE_REDIS_URL": server.url()})
        conn = redis.Redis.from_url(server.url(), socket_timeout=2)
        run_id, source = start_run(engine, tmp_path, "single")
        waiter, wait_err = start_wait(engine, run_id, tmp_path)
        engine.wait("a few jobs to finish", lambda: progress(conn, run_id) >= 4)

        server.stop(signal.SIGKILL)
        engine.wait("glue wait to see it", lambda: "queue unreachable" in wait_err.read_text())
        time.sleep(3)
        server.start()

        out, _ = waiter.communicate(timeout=RUN_TIMEOUT)
        err = wait_err.read_text()
        assert waiter.returncode == 0, err
        assert f"{COUNT}/{COUNT}" in out
        assert "Traceback" not in err
        lines = [line for line in err.splitlines() if "queue unreachable" in line]
        assert len(lines) == 1, err
        assert lines[0].startswith("glue: queue unreachable: ") and lines[0].endswith(", retrying")
        check_run(engine, conn, run_id, source)
    finally:
        for workers in engine.workers:
            workers.stop()
        server.stop()


def test_wait_gives_up_on_an_unreachable_queue_with_exit_status_4(engine: Engine) -> None:
    server = RedisServer(Path("/nonexistent"))  # never started: nothing listens on its port
    engine.env["GLUE_REDIS_URL"] = server.url()
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "glue", "wait", "nothing", "--timeout", "2"],
        env=engine.env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 4, proc.stderr
    assert time.monotonic() - started < 30
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("glue: queue unreachable: ") and lines[0].endswith(", retrying")
    assert lines[1].startswith("glue: error: queue unreachable for ")
    assert len(lines) == 2, proc.stderr


@pytest.mark.parametrize(("lost", "how"), [(1, "gone"), (3, "gone"), (2, "orphaned")])
def test_wait_queues_again_the_scenarios_a_failover_lost(
    engine: Engine, tmp_path: Path, lost: int, how: str
) -> None:
    """What asynchronous replication loses: jobs gone from Redis, or jobs still `queued` that
    a dequeue took off the list whose reply never reached its worker; no outcome. No workers
    run, so the requeued jobs must be in the queue afterwards."""
    files = {f"s{n}.py": scenarios.script(BODY, n=n) for n in range(5)}
    source = scenarios.write(tmp_path / "scenarios", files)
    run_id = engine.run_id(f"lost{lost}{how}")
    code, _, err = engine.glue("run", str(source), "--run-id", run_id, "--executor", "process")
    assert code == 0, err
    queue_key = f"rq:queue:{engine.env['GLUE_QUEUE']}"
    ids = RunState(engine.conn, run_id).jobs()
    gone = [ids[f"s{n}.py"] for n in range(lost)]
    for jid in gone:
        if how == "gone":
            engine.conn.delete(Job.key_for(jid))
        engine.conn.lrem(queue_key, 0, jid)

    code, _, err = engine.glue("wait", run_id, "--timeout", "0.5")
    assert code == 3, err
    assert f"{lost} scenario(s) had no job and no outcome (an interrupted submit" in err
    queued = {j.decode() for j in engine.conn.lrange(queue_key, 0, -1)}
    assert set(gone) <= queued and len(queued) == 5

    code, _, err = engine.glue("wait", run_id, "--timeout", "0.5")
    assert code == 3 and "queued them again" not in err, err


def test_a_job_queued_twice_runs_twice_at_once_and_is_folded_once(
    engine: Engine, tmp_path: Path
) -> None:
    """A failover can leave a job both with a worker and in the queue (the replica never saw
    the dequeue): two slots of one host then run it at the same time. Each copy must get its
    own attempt number, folder and upload prefix, or one removes the other's files and the
    scenario fails."""
    body = "time.sleep(1.5)\nanswer({{'value': {n}}})\n"
    source = scenarios.write(tmp_path / "scenarios", {"s0.py": scenarios.script(body, n=7)})
    run_id = engine.run_id("twice")
    args = ["run", str(source), "--run-id", run_id, "--executor", "process", "--retries", "0"]
    code, _, err = engine.glue(*args, "--reduce", "sum:value")
    assert code == 0, err
    (job_id,) = RunState(engine.conn, run_id).jobs().values()
    engine.conn.rpush(f"rq:queue:{engine.env['GLUE_QUEUE']}", job_id)
    engine.start_workers("--slots", "2")

    code, _, err = engine.glue("wait", run_id, "--timeout", "60")
    assert code == 0, err
    summary = RunState(engine.conn, run_id).summary()
    assert summary["counts"] == {"succeeded": 1}
    assert summary["reduced"] == {"sum:value": 7}
    attempts = source.parent / "results" / run_id / "s0.py" / "attempts"
    engine.wait("both copies to upload", lambda: len(list(attempts.glob("*/outcome.json"))) == 2)
    copies = [read_json(p) for p in sorted(attempts.glob("*/outcome.json"))]
    assert sorted(c["attempt"] for c in copies) == [1, 2]
    assert {c["status"] for c in copies} == {"succeeded"}
    assert {c["slot"] for c in copies} == {1, 2}, "the two copies did not run at once"
