"""Submit an expression's steps as RQ jobs with dependencies and wait for its value.

RQ starts a job once every job it depends on has finished. When a job fails, the jobs that
depend on it would wait forever, so the runner watches every step: the first failure ends the
expression with the failing task's name and error, and the steps still waiting are canceled.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from glue.errors import GlueError
from glue.expr import steps as step_functions
from glue.expr.functions import FunctionFile
from glue.expr.grammar import parse
from glue.expr.plan import TASK, Plan, compile_plan
from glue.jobs import connection

POLL_SECONDS = 0.02
KEEP_SECONDS = 24 * 3600
# RQ's hard limit on combining steps, which only read two values from Redis.
STEP_TIMEOUT = 60
FAILED_STATES = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


class ExpressionFailed(GlueError):
    """A step failed; the message names the task and its error."""


@dataclass(frozen=True)
class Submitted:
    plan: Plan
    run_id: str


def submit(
    conn: redis.Redis, queue_name: str, text: str, tasks: FunctionFile, timeout: int
) -> Submitted:
    tree = parse(text, known=tasks.functions())
    run_id = f"expr-{uuid.uuid4().hex[:12]}"
    plan = compile_plan(tree, run_id)
    queue = connection.queue(conn, queue_name)
    for step in plan.steps:
        common = {
            "job_id": step.id,
            "depends_on": list(step.depends_on) or None,
            "result_ttl": KEEP_SECONDS,
            "failure_ttl": KEEP_SECONDS,
            "description": f"{text} :: {step.task or step.kind}",
            "meta": {"expression": run_id, "task": step.task},
        }
        if step.kind == TASK:
            args = [tasks.source, tasks.filename, step.task, timeout]
            queue.enqueue_call(step_functions.run_task, args=args, timeout=timeout + 60, **common)
        else:
            queue.enqueue_call(
                step_functions.STEP_FUNCTIONS[step.kind],
                args=[list(step.operands)],
                timeout=STEP_TIMEOUT,
                **common,
            )
    return Submitted(plan, run_id)


def _error_line(job: Job) -> str:
    result = job.latest_result()
    text = (result.exc_string if result else None) or job.get_status().value
    lines = [line for line in text.strip().splitlines() if line.strip()]
    # The last line of a traceback is "Type: message"; ours drop the module path.
    last = lines[-1] if lines else "failed"
    return last.removeprefix("glue.expr.steps.TaskFailed: ")


def wait(conn: redis.Redis, submitted: Submitted) -> Any:
    plan = submitted.plan
    ids = [step.id for step in plan.steps]
    while True:
        jobs = Job.fetch_many(ids, connection=conn, serializer=JSONSerializer)
        for step, job in zip(plan.steps, jobs, strict=True):
            if job is None or job.get_status(refresh=False) in FAILED_STATES:
                _cancel_waiting(jobs)
                who = f"task {step.task!r}" if step.task else f"step {step.kind}"
                why = _error_line(job) if job else "its job is gone from Redis"
                raise ExpressionFailed(f"{who} failed: {why}")
        final = jobs[ids.index(plan.result)]
        if final.get_status(refresh=False) == JobStatus.FINISHED:
            return final.latest_result().return_value
        time.sleep(POLL_SECONDS)


def _cancel_waiting(jobs: list[Job | None]) -> None:
    for job in jobs:
        if job is not None and job.get_status(refresh=False) in (
            JobStatus.DEFERRED,
            JobStatus.QUEUED,
            JobStatus.SCHEDULED,
        ):
            job.cancel()
