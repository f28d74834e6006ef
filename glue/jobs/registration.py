"""Keep an RQ worker registered after Redis lost its data, with its running job's bookkeeping.

RQ registers a worker once, when it starts. If Redis then loses its data (FLUSHALL, or a
restart without persistence: the queue host rebuilt), the worker goes on taking and running
jobs, but its heartbeats only touch a worker hash that no longer lists it anywhere: `glue
status`, the slot check of run.yml and lost-job recovery stop seeing it. And its running job is
gone from Redis too: a resubmitted run would queue it again while it runs, and a worker that
died now would lose it for good.

So at every heartbeat the worker checks, in one round trip, that its hash still has its birth
and that the worker sets still hold it (a restart without data empties both, as FLUSHALL
does). When not, it registers again and re-creates what RQ wrote when its running job
started - the job hash, the execution record, the started registry's entry - unless the job
has meanwhile ended and written its end itself. The slot then records the outcome once, as
it would have without the loss.
"""

from __future__ import annotations

import logging

from redis.exceptions import WatchError
from rq import worker_registration
from rq.executions import ExecutionRegistry
from rq.job import JobStatus
from rq.worker import Worker

log = logging.getLogger("glue.worker")


def lost(worker: Worker) -> bool:
    """True when Redis no longer knows this worker as registered."""
    with worker.connection.pipeline(transaction=False) as pipe:
        pipe.hexists(worker.key, "birth")
        pipe.sismember(worker.redis_workers_keys, worker.key)
        for name in worker.queue_names():
            pipe.sismember(worker_registration.WORKERS_BY_QUEUE_KEY % name, worker.key)
        return not all(pipe.execute())


def register_again(worker: Worker) -> None:
    """Register the worker as at its birth, and re-create its running job's records."""
    # The worker's copies of its running jobs, as they were dequeued.
    executions = list(worker.executions.values())
    with worker.connection.pipeline() as pipe:
        try:
            if executions:
                pipe.watch(*(execution.job.key for execution in executions))
            # A job hash that exists again was written by its slot at the job's end.
            running = [e for e in executions if not pipe.exists(e.job.key)]
            pipe.multi()
            pipe.hset(worker.key, mapping={**worker.serialize(), "state": worker.get_state()})
            worker_registration.register(worker, pipe)
            pipe.expire(worker.key, worker.worker_ttl + 60)
            for execution in running:
                job = execution.job
                ttl = worker.get_heartbeat_ttl(job)
                job.worker_name = worker.name
                job.set_status(JobStatus.STARTED, pipeline=pipe)
                job.save(pipeline=pipe)
                execution.save(ttl, pipeline=pipe)
                ExecutionRegistry(job.id, connection=pipe).add(execution, ttl, pipeline=pipe)
                job.started_job_registry.add_execution(execution, pipeline=pipe, ttl=ttl)
                pipe.sadd(worker.executions_key, execution.composite_key)
                pipe.expire(worker.executions_key, ttl + 60)
            pipe.execute()
        except WatchError:
            return  # the job's end was written meanwhile: the next heartbeat looks again
    log.warning(
        "worker %s: Redis had lost its registration (data lost or flushed): registered again%s",
        worker.name,
        "".join(f"; job {execution.job_id} is running here" for execution in running),
    )
