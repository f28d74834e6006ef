"""Queue a run: one RQ job per scenario, each with an id derived from the run, its source and
the scenario.

Jobs go to Redis in chunks through RQ's enqueue_many, each chunk one MULTI/EXEC: a submit that
is interrupted (Ctrl-C, a kill, a lost connection) leaves whole chunks queued and none half
written. Every scenario is listed in the run before the first chunk, so what an interrupted
submit did not queue is a scenario of the run with no job and no outcome: the next submit of
the run queues exactly those, and `glue wait` notices them (glue.jobs.recover).

A scenario is queued only if its job does not exist and it has no outcome, and only one submit
of a run works at a time (a lock on the run): submitting a run again, or requeueing what it
lost, never queues a scenario twice and never repeats one that finished.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

import redis
from redis.exceptions import LockError
from rq import Callback, Queue, Retry
from rq.job import Job
from rq.queue import EnqueueData

from glue.config import Settings
from glue.errors import GlueError
from glue.jobs import connection, naming, routing
from glue.jobs.job import on_failure, on_stopped, on_success, run_scenario
from glue.jobs.runstate import RunState

T = TypeVar("T")

# RQ's own hard limit on a job: the scenario's timeout plus time to fetch, pull and upload.
JOB_OVERHEAD = 600
# A finished job's RQ record goes soon after its outcome is folded (its result is in the results
# place): not at once, since RQ's immediate delete fails on a job whose execution record has
# expired (after a queue outage) and would run the job again. A failed one's stays a day.
KEEP_SECONDS = 10
FAILURE_SECONDS = 24 * 3600
CALLBACK_TIMEOUT = 300
# Jobs per MULTI/EXEC: big enough to amortise round trips, small enough to bound memory and
# the time Redis spends in one transaction.
CHUNK = 2000
# A submit holds its run's lock this long past its latest chunk: a killed submit's lock lapses
# and the next submit of the run waits at most that long.
LOCK_SECONDS = 10


@dataclass(frozen=True)
class Submitted:
    queued: int
    skipped: int


def run_spec(settings: Settings, run_id: str, source: str, results: str) -> dict[str, Any]:
    """The settings every job of the run carries (JSON, like everything RQ stores here)."""
    return {
        "run_id": run_id,
        "source": source,
        "results": results,
        "reduce": settings.reduce,
        "executor": settings.executor,
        "image": settings.image,
        "command": settings.command,
        "timeout": settings.timeout,
        "retries": settings.retries,
        "cpus": settings.cpus,
        "memory": settings.memory,
        "gpus": settings.gpus,
        "venv": settings.venv,
        "require": settings.require,
        "gpu_slots_take_cpu": settings.gpu_slots_take_cpu,
        "queue": routing.run_queue(settings),
        "network": settings.network,
        "read_only_root": settings.read_only_root,
        "pids_limit": settings.pids_limit,
        "shm_size": settings.shm_size,
        "secrets": settings.secrets,
        "env": settings.env,
        "keep_days": settings.run_keep_days,
    }


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def submit(
    conn: redis.Redis,
    settings: Settings,
    spec: dict[str, Any],
    scenarios: list[str],
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> Submitted:
    """Queue, in this order, the scenarios of the run that have neither a job nor an outcome;
    `extra` adds to a scenario's job spec (its content id and expected duration, see order.py)."""
    run_id = spec["run_id"]
    routing.check_fleet(conn, settings.queue, spec)
    state = RunState(conn, run_id)
    state.define(spec)
    # A rerun's scenarios have job ids of their own.
    ids = state.job_ids({s: naming.job_id(run_id, spec["source"], s) for s in scenarios})
    queue = connection.queue(conn, spec.get("queue") or settings.queue)
    with _submitting(conn, state) as still_mine:
        # Every scenario is listed before the first job is queued, so a fast first job can
        # never see the run as complete while the rest are still being queued.
        for chunk in chunks(list(ids.items())):
            state.register(dict(chunk))
            still_mine()
        todo = unqueued(conn, state, ids, still_mine)
        for chunk in chunks(todo):
            with conn.pipeline(transaction=True) as pipe:
                jobs = [_job(settings, spec, s, ids[s], (extra or {}).get(s)) for s in chunk]
                queue.enqueue_many(jobs, pipe)
                pipe.execute()
            still_mine()
    return Submitted(len(todo), len(scenarios) - len(todo))


def unqueued(
    conn: redis.Redis, state: RunState, ids: dict[str, str], between: Callable[[], None]
) -> list[str]:
    """Scenarios with no job and no outcome, in the order given.

    Jobs are looked up before outcomes: a job that ends in between has its outcome recorded
    before RQ deletes it, so it is never taken for one that was not queued."""
    scenarios = list(ids)
    exists = []
    for chunk in chunks(scenarios):
        with conn.pipeline(transaction=False) as pipe:
            for scenario in chunk:
                pipe.exists(Job.key_for(ids[scenario]))
            exists += pipe.execute()
        between()
    done = state.folded()
    return [s for s, there in zip(scenarios, exists, strict=True) if not there and s not in done]


def _job(
    settings: Settings,
    spec: dict[str, Any],
    scenario: str,
    job_id: str,
    extra: Mapping[str, Any] | None,
) -> EnqueueData:
    return Queue.prepare_data(
        run_scenario,
        kwargs={"spec": {**spec, "scenario": scenario, **(extra or {})}},
        job_id=job_id,
        description=f"{spec['run_id']} {scenario}",
        meta={"run_id": spec["run_id"], "scenario": scenario},
        timeout=settings.timeout + JOB_OVERHEAD,
        retry=Retry(max=settings.retries) if settings.retries else None,
        result_ttl=KEEP_SECONDS,
        failure_ttl=FAILURE_SECONDS,
        on_success=Callback(on_success, CALLBACK_TIMEOUT),
        on_failure=Callback(on_failure, CALLBACK_TIMEOUT),
        on_stopped=Callback(on_stopped, CALLBACK_TIMEOUT),
    )


@contextmanager
def _submitting(conn: redis.Redis, state: RunState) -> Iterator[Callable[[], None]]:
    """Hold the run's submit lock; yields a call that renews it and fails if it lapsed.

    Another submit of the run is waited for: it renews the lock while it works, and the lock of
    one that was killed lapses within LOCK_SECONDS."""
    lock = conn.lock(state.key + ":submitting", timeout=LOCK_SECONDS, sleep=0.2)
    lock.acquire(blocking=True)

    def still_mine() -> None:
        try:
            lock.reacquire()
        except LockError:
            raise GlueError(
                f"run {state.run_id}: lost the submit lock (Redis slow for {LOCK_SECONDS} s?): "
                "submit the run again to queue the rest"
            ) from None

    try:
        yield still_mine
    finally:
        with suppress(LockError):  # lapsed: another submit may hold it, not ours to release
            lock.release()
