"""What a worker runs for each step of an expression: a task, a list, or a sum.

List and sum steps read their operands' values from the operand jobs' results in Redis, so
any worker can run any step and nothing flows through the submitting process.
"""

from __future__ import annotations

import json
from typing import Any

from rq.job import Job, get_current_job

from glue.expr.functions import FunctionFile
from glue.jobs import process_executor, slot
from glue.jobs.executor import SUCCEEDED, ExecSpec, IoDir


class TaskFailed(Exception):
    """A task raised, or its command failed; the message is what the user sees."""


def _command_value(name: str, command: str, timeout: int, job_id: str) -> Any:
    """Run a task's shell command with an io-dir; result.json, else stdout as JSON."""
    here = slot.current()
    io = IoDir.create(slot.workdir() / job_id)
    try:
        spec = ExecSpec(["sh", "-c", command], "", timeout, job_id, here.host)
        outcome = process_executor.run(spec, io)
        if outcome.status != SUCCEEDED:
            raise TaskFailed(f"command {command!r}: {outcome.error}\n{io.log_tail()}")
        value = io.result()
        if value is not None:
            return value
        # Log lines are "<timestamp> <text>"; the text is the command's output.
        lines = io.log.read_text().splitlines() if io.log.is_file() else []
        stdout = "\n".join(line.partition(" ")[2] for line in lines)
        try:
            return json.loads(stdout)
        except ValueError:
            raise TaskFailed(
                f"command {command!r} wrote no results/result.json and its output is not "
                f"JSON: {stdout[:200]!r}"
            ) from None
    finally:
        io.remove()


def run_task(source: str, filename: str, name: str, timeout: int) -> Any:
    functions = FunctionFile(source, filename).functions()
    if name not in functions:
        raise TaskFailed(f"no task {name!r} in {filename}")
    value = functions[name]()
    if isinstance(value, str):
        job = get_current_job()
        value = _command_value(name, value, timeout, job.id if job else name)
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise TaskFailed(f"returned {type(value).__name__}, which JSON cannot hold") from None
    return value


def _values(operands: list[str]) -> list[Any]:
    job = get_current_job()
    jobs = Job.fetch_many(operands, connection=job.connection, serializer=job.serializer)
    values = []
    for step_id, operand in zip(operands, jobs, strict=True):
        result = operand.latest_result() if operand else None
        if result is None or result.type != result.Type.SUCCESSFUL:
            raise TaskFailed(f"the value of step {step_id} is gone from Redis")
        values.append(result.return_value)
    return values


def collect(operands: list[str]) -> list[Any]:
    """`a | b`: the list of the operands' values."""
    return _values(operands)


def add(operands: list[str]) -> Any:
    """`a + b`: numbers are added, lists joined; anything else is an error."""
    left, right = _values(operands)
    numbers = (int, float)
    if isinstance(left, list) and isinstance(right, list):
        return left + right
    if (
        isinstance(left, numbers)
        and isinstance(right, numbers)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
    ):
        return left + right
    raise TaskFailed(f"cannot add {type(left).__name__} and {type(right).__name__}")


STEP_FUNCTIONS = {"list": collect, "sum": add}
