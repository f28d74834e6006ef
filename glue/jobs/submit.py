"""Queue a run: one RQ job per scenario, each with an id derived from the run and scenario.

RQ's unique enqueue refuses a job id that already exists, and the run's outcomes list the
scenarios that already ended, so submitting a run again queues only what is neither queued,
running nor done: a resumed run picks up where it stopped and never repeats a scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from rq import Callback, Retry
from rq.exceptions import DuplicateJobError

from glue.config import Settings
from glue.jobs import connection, naming, routing
from glue.jobs.job import on_failure, on_stopped, on_success, run_scenario
from glue.jobs.runstate import RunState

# RQ's own hard limit on a job: the scenario's timeout plus time to fetch, pull and upload.
JOB_OVERHEAD = 600
# How long finished and failed jobs stay in Redis (the run's outcomes stay for good).
KEEP_SECONDS = 7 * 24 * 3600
CALLBACK_TIMEOUT = 300


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
    }


def submit(
    conn: redis.Redis, settings: Settings, spec: dict[str, Any], scenarios: list[str]
) -> Submitted:
    run_id = spec["run_id"]
    routing.check_fleet(conn, settings.queue, spec)
    state = RunState(conn, run_id)
    state.define(spec)
    ids = {scenario: naming.job_id(run_id, scenario) for scenario in scenarios}
    # Every scenario is listed before the first job is queued, so a fast first job can never
    # see the run as complete while the rest are still being queued.
    state.register(ids)
    done = state.folded()
    queue = connection.queue(conn, spec.get("queue") or settings.queue)
    queued = 0
    for scenario in scenarios:
        if scenario in done:
            continue
        try:
            queue.enqueue_call(
                run_scenario,
                kwargs={"spec": {**spec, "scenario": scenario}},
                job_id=ids[scenario],
                unique=True,
                description=f"{run_id} {scenario}",
                meta={"run_id": run_id, "scenario": scenario},
                timeout=settings.timeout + JOB_OVERHEAD,
                retry=Retry(max=settings.retries) if settings.retries else None,
                result_ttl=KEEP_SECONDS,
                failure_ttl=KEEP_SECONDS,
                on_success=Callback(on_success, CALLBACK_TIMEOUT),
                on_failure=Callback(on_failure, CALLBACK_TIMEOUT),
                on_stopped=Callback(on_stopped, CALLBACK_TIMEOUT),
            )
            queued += 1
        except DuplicateJobError:
            pass
    return Submitted(queued, len(scenarios) - queued)
