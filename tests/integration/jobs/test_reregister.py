"""Redis loses its data under a running `glue worker` (FLUSHALL, or a restart without
persistence, as when the queue host is rebuilt): the worker registers again within a few
heartbeats, a job it was running still gets its outcome recorded once, and the next job runs."""

from __future__ import annotations

import secrets
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from rq import Worker
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from glue.jobs import connection
from glue.jobs.runstate import RunState
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine, read_json
from tests.support.redis_server import RedisServer

# Heartbeats are 1 s here (conftest.FAST): "registered again" must come within a few.
REREGISTER_SECONDS = 5
# Long enough to check the job's records and resubmit the run while it still runs.
LONG_JOB = """open({marks!r}, "a").write("started\\n")
time.sleep(8)
open({marks!r}, "a").write("ran\\n")
answer({{"value": 7}})
"""
QUICK_JOB = """answer({"value": 1})
"""


def flushall(server: RedisServer) -> None:
    client = redis.Redis.from_url(server.url())
    client.flushall()
    client.close()


def restart_empty(server: RedisServer) -> None:
    """Kill Redis and start it again with no data, as on a rebuilt queue host."""
    server.stop()
    for name in ("appendonlydir", "dump.rdb"):
        path = server.folder / name
        if path.is_dir():
            shutil.rmtree(path)
        path.unlink(missing_ok=True)
    server.start()


LOSSES: dict[str, Callable[[RedisServer], None]] = {
    "flushall": flushall,
    "restart-without-data": restart_empty,
}


@pytest.fixture
def own_redis(engine: Engine, tmp_path: Path, monkeypatch) -> Iterator[RedisServer]:
    """A Redis of this test's own, so losing its data disturbs no other test."""
    server = RedisServer(tmp_path / "redis", password=secrets.token_hex(8))
    server.folder.mkdir()
    server.start()
    engine.env["GLUE_REDIS_URL"] = server.url()
    engine.env["GLUE_QUEUE"] = f"rereg-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("GLUE_REDIS_URL", server.url())
    monkeypatch.setenv("GLUE_QUEUE", engine.env["GLUE_QUEUE"])
    engine.conn = redis.Redis.from_url(server.url())
    try:
        yield server
    finally:
        for workers in engine.workers:
            workers.stop()
        server.stop()


def registered(engine: Engine) -> list[str]:
    """Names of the workers RQ lists on the engine's queue."""
    queue = connection.queue(engine.conn, engine.env["GLUE_QUEUE"])
    return [w.name for w in Worker.all(queue=queue, serializer=JSONSerializer)]


def submit(engine: Engine, source: Path, run_id: str) -> str:
    code, _, err = engine.glue("run", str(source), "--run-id", run_id, "--executor", "process")
    assert code == 0, err
    return err


@pytest.mark.parametrize("loss", LOSSES)
def test_an_idle_worker_registers_again_and_takes_the_next_job(
    engine: Engine, own_redis: RedisServer, tmp_path: Path, loss: str
) -> None:
    workers = engine.start_workers("--slots", "1")
    (name,) = engine.wait("the worker to register", lambda: registered(engine), 30)

    LOSSES[loss](own_redis)

    again = engine.wait(
        "the worker to register again", lambda: registered(engine), REREGISTER_SECONDS
    )
    assert again == [name]
    # The worker says so once its registration is written: a moment after the test can see it.
    engine.wait("the worker to log it", lambda: "registered again" in workers.log.read_text(), 5)
    source = scenarios.write(tmp_path / "scenarios", {"next.py": scenarios.script(QUICK_JOB)})
    run_id = engine.run_id("after-loss")
    submit(engine, source, run_id)
    summary = engine.wait_complete(run_id, 60)
    assert summary["counts"] == {"succeeded": 1}
    assert summary["jobs"][0]["host"] and summary["jobs"][0]["slot"] == 1


@pytest.mark.parametrize("loss", LOSSES)
def test_a_busy_worker_registers_again_and_its_job_ends_once(
    engine: Engine, own_redis: RedisServer, tmp_path: Path, shared_tmp: Path, loss: str
) -> None:
    # Where the job (a slot account, under the sandbox) may write: not root's tmp_path.
    marks = shared_tmp / "marks"
    source = scenarios.write(
        tmp_path / "scenarios",
        {"long.py": scenarios.script(LONG_JOB, marks=str(marks))},
    )
    run_id = engine.run_id("busy")
    workers = engine.start_workers("--slots", "1")
    submit(engine, source, run_id)
    long_id = RunState(engine.conn, run_id).jobs()["long.py"]
    engine.wait("the long job to start", lambda: marks.exists(), 60)

    LOSSES[loss](own_redis)

    # Within a few heartbeats the worker is listed again, and its job as running on it.
    engine.wait("the worker to register again", lambda: registered(engine), REREGISTER_SECONDS)
    job = Job.fetch(long_id, connection=engine.conn, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.STARTED and job.worker_name == registered(engine)[0]
    started = StartedJobRegistry(engine.env["GLUE_QUEUE"], connection=engine.conn)
    assert started.get_job_ids() == [long_id]
    assert "ran" not in marks.read_text(), "the job ended before the test could look"

    # The run resubmitted (what run.yml does against a rebuilt queue host) with one more
    # scenario: the running one is not queued twice, the new one runs next.
    (source / "next.py").write_text(scenarios.script(QUICK_JOB))
    said = submit(engine, source, run_id)
    assert "1 queued, 1 already queued or done" in said, said

    summary = engine.wait_complete(run_id, 60)
    assert summary["counts"] == {"succeeded": 2}
    assert marks.read_text() == "started\nran\n"  # ran once, from start to end
    long = engine.state(run_id).outcomes()["long.py"]
    assert long["status"] == "succeeded" and long["attempt"] == 1
    assert len(Job.fetch(long_id, connection=engine.conn, serializer=JSONSerializer).results()) == 1
    outcome = read_json(source.parent / "results" / run_id / "long.py" / "outcome.json")
    assert outcome["result"] == {"value": 7}
    assert "registered again; job " + long_id in workers.log.read_text()
