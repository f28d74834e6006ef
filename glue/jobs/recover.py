"""Requeue the scenarios of a run that a failover lost.

Replication is asynchronous, and a worker can lose the reply of a command the old primary
carried out. So after a failover a scenario of the run may have no outcome and either
- no RQ job at all (queued or moved just before the primary died, absent from the replica), or
- a job still `queued` that is in no queue: a worker's dequeue took it off the list and the
  reply never reached the worker, so nobody runs it.
Nothing would ever run either. A missing job is queued again under the same id (RQ's unique
enqueue skips it if it reappeared meanwhile); an orphaned one is pushed back to the front of
its queue. A scenario that does run twice is folded once.
"""

from __future__ import annotations

import time
from dataclasses import replace

import redis
from rq.job import Job
from rq.queue import Queue

from glue.config import Settings
from glue.jobs import submit
from glue.jobs.runstate import RunState

Pending = tuple[str, str, str]  # scenario, job id, origin queue

# A worker moves a job from `queued` to `started` within milliseconds of taking it off the
# list; one still `queued` and in no list this much later has no worker.
ORPHAN_GRACE_SECONDS = 1.0


def _pending(conn: redis.Redis, state: RunState) -> list[tuple[str, str, str | None, str | None]]:
    """(scenario, job id, status, origin queue) of every scenario without an outcome."""
    outcomes = state.folded()
    pending = sorted((s, j) for s, j in state.jobs().items() if s not in outcomes)
    with conn.pipeline(transaction=False) as pipe:
        for _, job_id in pending:
            pipe.hmget(Job.key_for(job_id), "status", "origin")
        found = pipe.execute()
    return [
        (scenario, job_id, *(v.decode() if v else None for v in fields))
        for (scenario, job_id), fields in zip(pending, found, strict=True)
    ]


def _orphans(conn: redis.Redis, candidates: list[Pending]) -> list[Pending]:
    """The `queued` jobs among candidates that are in no queue, now and a grace period later."""
    listed: dict[str, set[bytes]] = {}
    for _, _, origin in candidates:
        if origin not in listed:
            listed[origin] = set(conn.lrange(Queue(origin, connection=conn).key, 0, -1))
    unlisted = [c for c in candidates if c[1].encode() not in listed[c[2]]]
    if not unlisted:
        return []
    time.sleep(ORPHAN_GRACE_SECONDS)
    with conn.pipeline(transaction=False) as pipe:
        for _, job_id, origin in unlisted:
            pipe.hget(Job.key_for(job_id), "status")
            pipe.lpos(Queue(origin, connection=conn).key, job_id)
        found = pipe.execute()
    return [
        c
        for c, status, position in zip(unlisted, found[::2], found[1::2], strict=True)
        if status == b"queued" and position is None
    ]


def lost(conn: redis.Redis, state: RunState) -> tuple[list[str], list[Pending]]:
    """Scenarios with neither an outcome nor an RQ job, and (scenario, job id, queue) of those
    whose job is queued in no queue."""
    pending = _pending(conn, state)
    missing = [scenario for scenario, _, status, _ in pending if status is None]
    queued = [(s, j, origin) for s, j, status, origin in pending if status == "queued" and origin]
    return missing, _orphans(conn, queued) if queued else []


def requeue_lost(conn: redis.Redis, state: RunState, queue: str) -> int:
    """Queue the lost scenarios again with the run's own settings; how many were queued."""
    missing, orphans = lost(conn, state)
    for _, job_id, origin in orphans:
        Queue(origin, connection=conn).push_job_id(job_id, at_front=True)
    if not missing:
        return len(orphans)
    spec = state.spec()
    settings = replace(Settings(), queue=queue, timeout=spec["timeout"], retries=spec["retries"])
    return len(orphans) + submit.submit(conn, settings, spec, missing).queued
