"""Queue a run: one RQ job per scenario, each with an id derived from the run, its source and
the scenario.

Jobs go to Redis in chunks, each chunk one MULTI/EXEC, in RQ's own format: a submit that
is interrupted (Ctrl-C, a kill, a lost connection) leaves whole chunks queued and none half
written. Every scenario is listed in the run before the first chunk, so what an interrupted
submit did not queue is a scenario of the run with no job and no outcome: the next submit of
the run queues exactly those, and `glue wait` notices them (glue.jobs.recover).

A scenario is queued only if its job does not exist and it has no outcome, and only one submit
of a run works at a time (a lock on the run): submitting a run again, or requeueing what it
lost, never queues a scenario twice and never repeats one that finished.

A job carries only what is its own (run id, scenario, content id, expected duration); the run's
settings are in its run state, read by the job as it starts (glue.jobs.job). RQ would build,
encode and store a Job object per scenario; here RQ builds one job of the run per submit, and each
scenario's job hash is that job's fields with its own id, data, description and meta: the hash
RQ writes, but for the data's compression and the times (those of the submit; see
tests/integration/jobs/test_queued_jobs.py), at a fraction of the cost.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

import redis
from redis.exceptions import LockError
from rq import Callback, Queue, Retry
from rq.job import Job, JobStatus

from glue.config import Settings
from glue.errors import GlueError
from glue.jobs import connection, naming, routing
from glue.jobs.job import on_failure, on_stopped, on_success, run_scenario
from glue.jobs.runstate import RunState

T = TypeVar("T")

# RQ's own hard limit on a job up to the end of its command: the scenario's timeout plus time
# to fetch the scenario and pull its image (the upload comes after, in the slot's finisher).
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
# A job's own fields of its RQ hash (JobHashes.own); the others are the same for all its run's.
OWN = ("data", "description", "meta")
# Stands for the scenario's name in the model job's data and meta (JobHashes).
PLACEHOLDER = "glue:own"
# KEYS: the jobs' hashes; ARGV: the number n of common arguments, n common arguments (field,
# value, ...), then data, description, meta of each job. One call saves a chunk's jobs: Python
# encodes each job's own three values, not its twenty fields.
SAVE_SCRIPT = """
local n = tonumber(ARGV[1])
local common = {}
for i = 2, n + 1 do common[i - 1] = ARGV[i] end
for i, key in ipairs(KEYS) do
  local at = n + 2 + (i - 1) * 3
  redis.call('HSET', key, 'data', ARGV[at], 'description', ARGV[at + 1], 'meta', ARGV[at + 2],
             unpack(common))
end
"""
# KEYS: jobs' hashes; 1 or 0 for each (one call per chunk, not one command per job).
EXISTS_SCRIPT = """
local found = {}
for i, key in ipairs(KEYS) do found[i] = redis.call('EXISTS', key) end
return found
"""


@dataclass(frozen=True)
class Submitted:
    queued: int
    skipped: int


def run_spec(settings: Settings, run_id: str, source: str, results: str) -> dict[str, Any]:
    """The run's settings, kept in its run state (JSON); each job reads them there as it starts."""
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
    run_id, extra = spec["run_id"], extra or {}
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
        chunk_of = functools.partial(_chunk, JobHashes(queue, settings, run_id), ids, extra)
        _write(conn, queue, map(chunk_of, chunks(todo)), still_mine)
    return Submitted(len(todo), len(scenarios) - len(todo))


def _chunk(
    hashes: JobHashes,
    ids: Mapping[str, str],
    extra: Mapping[str, Mapping[str, Any]],
    scenarios: Sequence[str],
) -> tuple[list[str], list[Any]]:
    """The job ids of some scenarios and SAVE_SCRIPT's arguments for their hashes."""
    args: list[Any] = [len(hashes.common), *hashes.common]
    for scenario in scenarios:
        args += hashes.own(scenario, extra.get(scenario, {}))
    return [ids[s] for s in scenarios], args


def _write(
    conn: redis.Redis,
    queue: Queue,
    prepared: Iterator[tuple[list[str], list[Any]]],
    between: Callable[[], None],
) -> None:
    """Queue the prepared chunks' jobs, each chunk in one MULTI/EXEC, in order.

    A thread writes one chunk while this one prepares the next: Redis' time and Python's
    overlap. Chunks are written one at a time and in order, so an interrupted submit still
    leaves whole chunks queued, the first ones."""
    save = conn.register_script(SAVE_SCRIPT)

    def write(job_ids: list[str], args: list[Any]) -> None:
        with conn.pipeline(transaction=True) as pipe:
            # What RQ's enqueue does for jobs without dependencies: the queue in the set of
            # queues, each job's hash, the job ids at the queue's end.
            pipe.sadd(queue.redis_queues_keys, queue.key)
            save(keys=[Job.key_for(j) for j in job_ids], args=args, client=pipe)
            pipe.rpush(queue.key, *job_ids)
            pipe.execute()

    with ThreadPoolExecutor(max_workers=1) as writer:
        written = None
        for job_ids, args in prepared:
            if written is not None:
                written.result()
                between()
            written = writer.submit(write, job_ids, args)
        if written is not None:
            written.result()
            between()


def unqueued(
    conn: redis.Redis, state: RunState, ids: dict[str, str], between: Callable[[], None]
) -> list[str]:
    """Scenarios with no job and no outcome, in the order given.

    Jobs are looked up before outcomes: a job that ends in between has its outcome recorded
    before RQ deletes it, so it is never taken for one that was not queued."""
    scenarios = list(ids)
    exists = []
    check = conn.register_script(EXISTS_SCRIPT)
    for chunk in chunks(scenarios):
        exists += check(keys=[Job.key_for(ids[s]) for s in chunk])
        between()
    done = state.folded()
    return [s for s, there in zip(scenarios, exists, strict=True) if not there and s not in done]


class JobHashes:
    """RQ job hashes of one run's jobs, all queued by one submit.

    RQ builds one job of the run with every setting (function, callbacks, timeouts, retries,
    queue, status, times: those of the submit): those fields are common to its jobs. A job's
    own are its data (the job's arguments: run_scenario's spec), description and meta. The
    model's data and meta, serialised once with a placeholder for the scenario's name, are
    templates: a job's own values are filled in by joining bytes, not by RQ serialising a
    whole job per scenario."""

    def __init__(self, queue: Queue, settings: Settings, run_id: str) -> None:
        model = queue.create_job(
            run_scenario,
            kwargs={"spec": {"run_id": run_id, "scenario": PLACEHOLDER}},
            timeout=settings.timeout + JOB_OVERHEAD,
            retry=Retry(max=settings.retries) if settings.retries else None,
            result_ttl=KEEP_SECONDS,
            failure_ttl=FAILURE_SECONDS,
            on_success=Callback(on_success, CALLBACK_TIMEOUT),
            on_failure=Callback(on_failure, CALLBACK_TIMEOUT),
            on_stopped=Callback(on_stopped, CALLBACK_TIMEOUT),
            status=JobStatus.QUEUED,
            meta={"run_id": run_id, "scenario": PLACEHOLDER},
        )
        # As RQ's enqueue sets them.
        model.origin = queue.name
        model.enqueued_at = model.created_at
        fields = model.to_dict()
        # RQ writes a queued job's unset times and worker as empty strings and reads a missing
        # field the same way: left out, they cost neither memory nor append-only file.
        self.common = [v for k, v in fields.items() if k not in OWN and v != "" for v in (k, v)]
        placeholder = json.dumps(PLACEHOLDER).encode()
        # Each splits in two: the placeholder is in each once, as the scenario's value.
        self._data_head, self._data_tail = model.data.split(placeholder)
        self._meta_head, self._meta_tail = fields["meta"].split(placeholder)
        self._run_id = run_id

    def own(self, scenario: str, extra: Mapping[str, Any]) -> tuple[bytes, str, bytes]:
        """Data, description and meta of the job running `scenario`, its spec `extra` after
        the run id and scenario, as RQ stores them - but the data is not zlib-compressed:
        compressing a job's 200 bytes costs more than everything else of queueing it, saves
        40 bytes, and RQ reads uncompressed data as well (Job.restore falls back to it)."""
        name = json.dumps(scenario).encode()
        # `extra`'s members go after the scenario's, inside the spec's braces.
        more = b", " + json.dumps(extra).encode()[1:-1] if extra else b""
        return (
            self._data_head + name + more + self._data_tail,
            f"{self._run_id} {scenario}",
            self._meta_head + name + self._meta_tail,
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
