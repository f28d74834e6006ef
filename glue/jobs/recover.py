"""Requeue the scenarios of a run that a failover lost.

Replication is asynchronous: a job queued or moved just before the primary died may be absent
from the promoted replica. Such a scenario is in the run's job list but its RQ job no longer
exists and it has no outcome, so nothing would ever run it. Queueing it again under the same
job id is safe: RQ's unique enqueue skips it if it reappeared meanwhile, and a scenario that
did run twice is folded once.
"""

from __future__ import annotations

from dataclasses import replace

import redis
from rq.job import Job

from glue.config import Settings
from glue.jobs import submit
from glue.jobs.runstate import RunState


def lost(conn: redis.Redis, state: RunState) -> list[str]:
    """Scenarios with neither an outcome nor an RQ job."""
    outcomes = state.folded()
    pending = sorted((s, j) for s, j in state.jobs().items() if s not in outcomes)
    with conn.pipeline(transaction=False) as pipe:
        for _, job_id in pending:
            pipe.exists(Job.key_for(job_id))
        found = pipe.execute()
    return [scenario for (scenario, _), there in zip(pending, found, strict=True) if not there]


def requeue_lost(conn: redis.Redis, state: RunState, queue: str) -> int:
    """Queue the lost scenarios again with the run's own settings; how many were queued."""
    missing = lost(conn, state)
    if not missing:
        return 0
    spec = state.spec()
    settings = replace(Settings(), queue=queue, timeout=spec["timeout"], retries=spec["retries"])
    return submit.submit(conn, settings, spec, missing).queued
