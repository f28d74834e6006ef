"""What a queued job is in Redis, with real Redis and real workers: the same RQ hash RQ's own
enqueue writes, carrying only the job's own part of the spec; a job reads its run's settings
from the run state as it starts, and a job whose run is gone fails with one clear reason."""

from __future__ import annotations

import zlib
from pathlib import Path

from rq import Callback, Queue, Retry
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from glue.config import Settings
from glue.jobs import connection, submit
from glue.jobs.job import on_failure, on_stopped, on_success, run_scenario
from glue.jobs.naming import job_id
from glue.jobs.runstate import KEY_PREFIX
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine

# Set as each job is queued (ours: as its submit starts): they differ between any two jobs.
TIMES = {b"created_at", b"enqueued_at"}
# Filled into the model job's serialised data and meta: escapes must come out as RQ's.
ODD = 'a/ön "e".py'


def rq_enqueued(engine: Engine, settings: Settings, own: dict, job_id: str) -> dict:
    """The hash of a job with the same settings and arguments, queued by RQ's enqueue_many."""
    queue = connection.queue(engine.conn, "rq-made-" + engine.env["GLUE_QUEUE"])
    data = Queue.prepare_data(
        run_scenario,
        kwargs={"spec": own},
        job_id=job_id,
        description=f"{own['run_id']} {own['scenario']}",
        meta={"run_id": own["run_id"], "scenario": own["scenario"]},
        timeout=settings.timeout + submit.JOB_OVERHEAD,
        retry=Retry(max=settings.retries),
        result_ttl=submit.KEEP_SECONDS,
        failure_ttl=submit.FAILURE_SECONDS,
        on_success=Callback(on_success, submit.CALLBACK_TIMEOUT),
        on_failure=Callback(on_failure, submit.CALLBACK_TIMEOUT),
        on_stopped=Callback(on_stopped, submit.CALLBACK_TIMEOUT),
    )
    queue.enqueue_many([data])
    return engine.conn.hgetall(Job.key_for(job_id))


def test_a_queued_job_is_the_hash_rq_writes_with_only_its_own_part_of_the_spec(
    engine: Engine, tmp_path: Path
) -> None:
    settings = Settings(queue=engine.env["GLUE_QUEUE"], retries=2, timeout=120)
    run_id = engine.run_id("format")
    spec = submit.run_spec(settings, run_id, str(tmp_path), str(tmp_path / "results"))
    own = {"content": "0:e3b0c442", "expected": 1.5}
    done = submit.submit(engine.conn, settings, spec, [ODD, "two.py"], {"two.py": own})
    assert done == submit.Submitted(2, 0)
    ids = [job_id(run_id, str(tmp_path), s) for s in (ODD, "two.py")]
    queued = engine.conn.lrange(f"rq:queue:{settings.queue}", 0, -1)
    assert queued == [i.encode() for i in ids]
    assert f"rq:queue:{settings.queue}".encode() in engine.conn.smembers("rq:queues")

    for one, scenario, extra in ((ids[0], ODD, {}), (ids[1], "two.py", own)):
        ours = engine.conn.hgetall(Job.key_for(one))
        same = {"run_id": run_id, "scenario": scenario, **extra}
        theirs = rq_enqueued(engine, settings, same, "rq-made-" + one)
        # RQ's empty fields (no start, end, heartbeat, worker, group yet) are left out.
        assert ours.keys() == {k for k, v in theirs.items() if v != b""}
        assert len(ours) < len(theirs)
        differ = {k for k in ours if ours[k] != theirs[k]}
        assert differ <= TIMES | {b"origin", b"data"}, differ
        assert ours[b"data"] == zlib.decompress(theirs[b"data"])
        assert ours[b"origin"] == settings.queue.encode()
    assert Job.fetch(ids[0], engine.conn, serializer=JSONSerializer).meta["scenario"] == ODD

    job = Job.fetch(ids[1], engine.conn, serializer=JSONSerializer)
    assert job.func_name == "glue.jobs.job.run_scenario"
    assert job.kwargs == {"spec": {"run_id": run_id, "scenario": "two.py", **own}}
    assert job.meta == {"run_id": run_id, "scenario": "two.py"}
    assert (job.timeout, job.retries_left) == (120 + submit.JOB_OVERHEAD, 2)
    # The run's settings are stored once, in its run state, not in each job.
    assert len(ours[b"data"]) < 200


def test_a_job_runs_with_the_settings_of_its_run_state(engine: Engine, tmp_path: Path) -> None:
    one = {"v1.py": scenarios.script(scenarios.VALUE, n=7)}
    source = scenarios.write(tmp_path / "scenarios", one)
    run_id = engine.run_id("settings")
    args = ["run", str(source), "--run-id", run_id, "--executor", "process"]
    code, _, err = engine.glue(*args, "--reduce", "sum:value", "--results", str(tmp_path / "res"))
    assert code == 0, err
    job = Job.fetch(job_id(run_id, str(source), "v1.py"), engine.conn, serializer=JSONSerializer)
    assert "command" not in job.kwargs["spec"] and "reduce" not in job.kwargs["spec"]
    engine.start_workers("--slots", "1")
    summary = engine.wait_complete(run_id)
    assert summary["counts"] == {"succeeded": 1}
    assert summary["reduced"] == {"sum:value": 7}


def test_a_job_whose_run_is_gone_fails_saying_so(engine: Engine, tmp_path: Path) -> None:
    """The run's state deleted (or expired) while its jobs wait: they fail with the reason,
    nothing is folded or re-created, and the worker goes on."""
    source = scenarios.write(tmp_path / "scenarios", {"gone.py": "print(1)\n"})
    run_id = engine.run_id("gone")
    args = ["run", str(source), "--run-id", run_id, "--executor", "process", "--retries", "0"]
    code, _, err = engine.glue(*args, "--results", str(tmp_path / "results"))
    assert code == 0, err
    engine.conn.delete(*engine.conn.keys(f"{KEY_PREFIX}{run_id}*"))
    workers = engine.start_workers("--slots", "1")
    failed = FailedJobRegistry(engine.env["GLUE_QUEUE"], connection=engine.conn)
    the_job = job_id(run_id, str(source), "gone.py")
    engine.wait("the job to fail", lambda: the_job in failed.get_job_ids())
    job = Job.fetch(the_job, engine.conn, serializer=JSONSerializer)
    reason = job.latest_result().exc_string.strip().splitlines()[-1]
    assert reason == (
        f"glue.jobs.job.RunGone: run {run_id!r} is no longer in Redis (deleted, or expired "
        "after it completed): its jobs have no settings to run with"
    )
    engine.wait(
        "the worker to drop the outcome",
        lambda: "its outcome is dropped" in workers.log.read_text(),
    )
    assert not engine.conn.keys(f"{KEY_PREFIX}{run_id}*")
    assert (tmp_path / "results").exists() is False
    assert workers.proc.poll() is None
