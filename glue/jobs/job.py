"""What one RQ job does, and the callbacks that fold its outcome into the run.

run_scenario() makes the io-dir, fetches the scenario into inputs/, runs it with the chosen
executor, uploads results/ and logs/ (plus outcome.json) under the attempt's own prefix
<results>/<run>/<scenario>/attempts/<n>/ and returns the outcome. A scenario that fails or
times out raises ScenarioFailed, so RQ records the job as failed and retries it while retries
are left.

RQ calls on_success / on_failure / on_stopped as the job ends; they fold the outcome into the
run (runstate.fold) only when it is final - a failure with retries left only joins the
scenario's attempt history. The attempt whose fold is recorded then copies its upload to the
scenario's final place <results>/<run>/<scenario>/, so that place never mixes attempts and a
late upload of a lost attempt stays in its own prefix. The summary is written beside the
results once every scenario has an outcome. The fold is idempotent per scenario and job, so a
job that runs twice is counted once.

RQ lets a callback's exception pass silently (a success callback's turns into a failure, a
failure callback's is only logged), so fold() never raises for a reducer's sake: runstate
records the job as `error` with the reason instead, and the run still completes.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import redis
from rq import Retry
from rq.exceptions import AbandonedJobError
from rq.job import Job, get_current_job

from glue.errors import GlueError
from glue.jobs import docker_executor, history, nofollow, pause, process_executor, sandbox, slot
from glue.jobs.connection import queue as rq_queue
from glue.jobs.executor import (
    FAILED,
    LOG_NAME,
    SUCCEEDED,
    ExecResult,
    ExecSpec,
    IoDir,
    iso_utc,
)
from glue.jobs.locations import open_location
from glue.jobs.runstate import RunState, attempt_prefix

log = logging.getLogger("glue.jobs")

EXECUTORS: dict[str, Callable[[ExecSpec, IoDir], ExecResult]] = {
    "docker": docker_executor.run,
    "process": process_executor.run,
}
LOST, STOPPED, ERROR = "lost", "stopped", "error"
SUMMARY_NAME = "summary.json"
OUTCOME_NAME = "outcome.json"


class ExecutorFailed(GlueError):
    """The slot could not run the scenario and no other host can take it: its executor error
    (the run's retries then apply, as to any failure)."""


class ScenarioFailed(Exception):
    """The scenario ran and failed or timed out; carries its outcome to on_failure."""

    def __init__(self, outcome: dict[str, Any]) -> None:
        super().__init__(f"{outcome['scenario']}: {outcome['status']}: {outcome.get('error')}")
        self.outcome = outcome


def _start_attempt(job: Job) -> None:
    """Number this attempt and note where it runs, so status and a lost-job outcome can name
    the host (glue.jobs.runstate.RunState.next_attempt)."""
    here = slot.current()
    attempt = RunState(job.connection, job.meta["run_id"]).next_attempt(job.meta["scenario"])
    job.meta.update(host=here.host, slot=here.number, worker=here.worker, attempt=attempt)
    job.save_meta()


def _outcome(job: Job, status: str, error: str | None = None) -> dict[str, Any]:
    """An outcome from what RQ knows about the job and its latest attempt."""
    return {
        "scenario": job.meta["scenario"],
        "job_id": job.id,
        "status": status,
        "host": job.meta.get("host"),
        "slot": job.meta.get("slot"),
        "worker": job.meta.get("worker"),
        "attempt": job.meta.get("attempt", 0),
        "start": iso_utc(job.started_at) if job.started_at else None,
        "end": iso_utc(),
        "exit_code": None,
        "oom_killed": False,
        "error": error,
        "expected": job.kwargs["spec"].get("expected"),
    }


class RunGone(GlueError):
    """The job's run is no longer in Redis: it was deleted, or expired after completing."""


def run_settings(job: Job) -> dict[str, Any]:
    """The settings of the job's run, read from its run state (one small HGET) once per job.

    A job carries only its own part of the spec (run id, scenario, content id, expected
    duration): the rest, the same for every job of the run, is stored once per run rather than
    once per queued job. Kept on the job object: its start and its fold read them."""
    cached = getattr(job, "_glue_run_settings", None)
    if cached is not None:
        return cached
    run_id = job.meta["run_id"]
    try:
        settings = RunState(job.connection, run_id).spec()
    except GlueError:
        raise RunGone(
            f"run {run_id!r} is no longer in Redis (deleted, or expired after it completed): "
            "its jobs have no settings to run with"
        ) from None
    job._glue_run_settings = settings  # type: ignore[attr-defined]
    return settings


def run_scenario(spec: dict[str, Any]) -> PendingUpload | Retry:
    """The RQ job function; `spec` is this job's own part of its run's spec, over the run's
    settings (a job queued by an older glue carries them all: the same values).

    A slot whose host failed the job before hands it straight back while a slot on another
    host could take it; a slot that cannot run it hands it back after growing waits, a
    bounded number of times (glue.jobs.pause). Either way RQ requeues the returned Retry
    apart from the run's own retries.

    The job returns once its command has ended: its upload is a PendingUpload, which the
    slot's finisher completes (and hands to RQ's success or failure handling) while the slot
    starts its next job (glue.jobs.worker)."""
    job = get_current_job()
    assert job is not None, "run_scenario runs inside an RQ job"
    here = slot.current()
    if here.host in job.meta.get("failed_hosts", []) and _another_host_ready(job):
        log.info("job %s: %s failed it before; left to another host", job.id, here.host)
        pause.hold(job.connection, _slot_name(here))
        return pause.hand_back(job.number_of_retries or 0)
    spec = {**run_settings(job), **spec}
    _start_attempt(job)
    try:
        return _attempt(job, spec)
    except Exception as exc:
        reason = pause.executor_error(exc)
        if reason is None:
            raise
        errors = _executor_failed(job, here, reason)
        if errors <= here.settings.executor_retries and _another_host_ready(job):
            RunState(job.connection, job.meta["run_id"]).note_attempt(
                _outcome(job, ERROR, job.meta["executor_error"])
            )
            return pause.retry_after_error(errors, job.number_of_retries or 0, here.settings)
        raise ExecutorFailed(job.meta["executor_error"]) from None


@dataclass
class PendingUpload:
    """An attempt whose command has ended, with what it left still in its io-dir."""

    spec: dict[str, Any]
    outcome: dict[str, Any]
    io: IoDir

    def finish(self) -> dict[str, Any]:
        """Upload what the attempt left and remove its io-dir: the outcome of a scenario that
        succeeded, else ScenarioFailed carrying it (RQ's failure handling then applies)."""
        try:
            outcome = _upload(self.spec, self.outcome, self.io)
        finally:
            self.io.remove()
        if outcome["status"] != SUCCEEDED:
            raise ScenarioFailed(outcome)
        return outcome


def _attempt(job: Job, spec: dict[str, Any]) -> PendingUpload:
    """Run the scenario in a fresh io-dir (removed here only if the attempt goes no further)."""
    io = IoDir.create(slot.workdir() / f"{job.id}-{job.meta['attempt']}")
    try:
        outcome = _execute(job, spec, io)
        pause.note_answer(job.connection, _slot_name(slot.current()))
    except BaseException:
        io.remove()
        raise
    return PendingUpload(spec, outcome, io)


def _slot_name(here: slot.Slot) -> str:
    return pause.slot_name(here.host, here.number)


def _another_host_ready(job: Job) -> bool:
    """A live, unpaused slot on a host that has not failed the job serves its queue."""
    queue = rq_queue(job.connection, job.origin)
    return pause.another_host_ready(job.connection, queue, job.meta.get("failed_hosts", []))


def _executor_failed(job: Job, here: slot.Slot, reason: str) -> int:
    """Note the failed host and the error on the job and on the slot (which may pause it);
    how many executor errors the job has met."""
    name = _slot_name(here)
    failed = job.meta.get("failed_hosts", [])
    errors = job.meta.get("executor_errors", 0) + 1
    job.meta.update(
        failed_hosts=failed if here.host in failed else [*failed, here.host],
        executor_error=f"{name}: {reason}",
        executor_errors=errors,
    )
    job.save_meta()
    log.warning("job %s: %s cannot run it: %s", job.id, name, reason)
    paused = pause.note_error(job.connection, name, reason, here.settings)
    if paused:
        log.warning("%s", paused.line())
        RunState(job.connection, job.meta["run_id"]).note_pause(paused.slot, paused.line())
    return errors


def _execute(job: Job, spec: dict[str, Any], io: IoDir) -> dict[str, Any]:
    """Fetch the scenario into the io-dir, run it, and describe how it went."""
    here = slot.current()
    scenario = spec["scenario"]
    why = sandbox.key_refusal(scenario)
    if why:
        raise sandbox.Refused(f"scenario key {scenario!r} cannot be passed to a command: {why}")
    sandbox.check(sandbox.Profile.of(spec), here.settings)
    name = PurePosixPath(scenario).name
    source = open_location(spec["source"], here.settings.s3_endpoint_url)
    source.fetch(scenario, io.inputs / name)
    # Queued without one when its queue had no history (glue run): hashed here, before the
    # command can touch the copy, so the duration is still recorded for the next run.
    content = spec.get("content") or source.content_of(io.inputs / name)
    about = {**spec, "job_id": job.id, "attempt": job.meta["attempt"]}
    (io.configs / "job.json").write_text(json.dumps(about, indent=2))
    executed = EXECUTORS[spec["executor"]](
        exec_spec(spec, job.id, here.host, here.settings.venv_root, job.meta["attempt"]), io
    )
    outcome = {
        **_outcome(job, executed.status, executed.error),
        "start": executed.start,
        "end": executed.end,
        "exit_code": executed.exit_code,
        "oom_killed": executed.oom_killed,
        "content": content,
    }
    try:
        outcome["result"] = io.result()
    except ValueError as exc:
        outcome.update(status=FAILED, error=str(exc), result=None)
    if outcome["status"] != SUCCEEDED:
        outcome["log_tail"] = io.log_tail()
    return outcome


def exec_spec(
    spec: dict[str, Any],
    job_id: str,
    host: str,
    venv_root: str | None = None,
    attempt: int = 1,
) -> ExecSpec:
    """What an executor runs for one scenario of a run spec. The one place a spec becomes an
    ExecSpec, so that `glue image test` runs a scenario exactly as a fleet job would."""
    run_id, scenario = spec["run_id"], spec["scenario"]
    venv = spec.get("venv")
    return ExecSpec(
        command=shlex.split(spec["command"]),
        scenario_file=PurePosixPath(scenario).name,
        timeout=spec["timeout"],
        name=f"glue-{job_id}-{attempt}",
        host=host,
        image=spec.get("image", ""),
        env={"SIMFLEET_RUN_ID": run_id, "SIMFLEET_SCENARIO": scenario},
        tags={"run": run_id, "job": job_id, "scenario": scenario},
        cpus=spec.get("cpus"),
        memory=spec.get("memory"),
        gpus=spec.get("gpus", 0),
        venv=process_executor.resolve_venv(venv, venv_root or "") if venv else None,
        profile=sandbox.Profile.of(spec),
    )


def _upload(spec: dict[str, Any], outcome: dict[str, Any], io: IoDir) -> dict[str, Any]:
    """results/, logs/ (with the worker's output log) and outcome.json under the attempt's
    own prefix; the outcome gains notes on what was skipped."""
    results = open_location(spec["results"], slot.current().settings.s3_endpoint_url)
    base = attempt_prefix(spec["run_id"], spec["scenario"], outcome["attempt"])
    notes = results.upload_dir(io.results, f"{base}/results")
    notes += results.upload_dir(io.logs, f"{base}/logs")
    # The worker's own log replaces whatever the scenario left under that name.
    try:
        log = nofollow.open_file(io.folder, LOG_NAME)
    except OSError:
        log = None
    if log is not None:
        with log:
            results.write_bytes(f"{base}/logs/{LOG_NAME}", log.read())
    outcome = {**outcome, "uploaded": True, **({"notes": notes} if notes else {})}
    results.write_bytes(f"{base}/{OUTCOME_NAME}", json.dumps(outcome, indent=2).encode())
    return outcome


def promote(results_url: str, s3_endpoint_url: str | None, outcome: dict[str, Any]) -> None:
    """Copy the recorded attempt's upload to the scenario's final place, replacing what an
    earlier (rerun) attempt left there."""
    results = open_location(results_url, s3_endpoint_url)
    run_id, scenario = outcome["run_id"], outcome["scenario"]
    attempt = attempt_prefix(run_id, scenario, outcome["attempt"])
    results.place(attempt, f"{run_id}/{scenario}", ("results", "logs", OUTCOME_NAME))


def fold(job: Job, connection: redis.Redis, outcome: dict[str, Any]) -> None:
    """Fold a final outcome into its run; promote its upload when it is the one recorded;
    write the summary when it completes the run."""
    result = outcome.pop("result", None)
    try:
        spec = run_settings(job)
    except RunGone as exc:
        log.warning("job %s: %s: its outcome is dropped", job.id, exc)
        return
    s3 = slot.current().settings.s3_endpoint_url
    state = RunState(connection, job.meta["run_id"])
    if state.fold(outcome, result, spec["reduce"]):
        recorded = outcome if outcome.get("uploaded") else None
    else:
        # Another attempt's outcome is recorded: if its slot died before placing its upload,
        # this one places it (a scenario is done only once its upload is in place).
        recorded = state.unplaced_outcome(outcome["scenario"])
    if recorded is not None:
        try:
            promote(spec["results"], s3, {**recorded, "run_id": spec["run_id"]})
        except (GlueError, OSError) as exc:  # the attempt's own prefix still has it all
            log.warning("run %s: cannot copy %s to its place: %s", state.run_id, job.id, exc)
        finally:
            state.placed(recorded["scenario"])
    # Checked after every fold, even a repeated one, so a job retried after dying between
    # its fold and the summary still writes it.
    if state.complete():
        try:
            publish_summary(state, s3)
        except GlueError as exc:
            log.warning("run %s: cannot write the run summary: %s", state.run_id, exc)


def publish_summary(state: RunState, s3_endpoint_url: str | None) -> dict[str, Any]:
    """Write the run summary to <results>/<run>/summary.json (same content whoever writes)."""
    summary = state.summary(s3_endpoint_url)
    open_location(summary["results"], s3_endpoint_url).write_bytes(
        f"{state.run_id}/{SUMMARY_NAME}", json.dumps(summary, indent=2).encode()
    )
    return summary


def on_success(job: Job, connection: redis.Redis, result: dict[str, Any]) -> None:
    content = result.get("content") or job.kwargs["spec"].get("content")
    # Before the fold: once a run is complete, a next run finds every duration.
    history.note(connection, job.origin, content, result)
    fold(job, connection, dict(result))


def on_failure(job: Job, connection: redis.Redis, exc_type, exc_value, traceback) -> None:
    if not isinstance(exc_value, Exception):
        return  # interrupted (executor.Interrupted): its slot requeues it, or calls on_stopped
    # Outside its slot (a lost job) this job object may predate the attempt's notes.
    job.get_meta(refresh=True)
    if isinstance(exc_value, ScenarioFailed):
        outcome = exc_value.outcome
    elif isinstance(exc_value, AbandonedJobError):
        why = "the worker running it was lost"
        if not job.should_retry:
            why += ", and no retries were left"
        outcome = _outcome(job, LOST, why)
    else:
        outcome = _outcome(job, ERROR, f"{exc_type.__name__}: {exc_value}")
    if job.should_retry:
        log.info("job %s failed (%s); %s retries left", job.id, outcome["error"], job.retries_left)
        RunState(connection, job.meta["run_id"]).note_attempt(outcome)
        return
    fold(job, connection, outcome)


def on_stopped(job: Job, connection: redis.Redis) -> None:
    job.get_meta(refresh=True)  # perhaps run by another process, whose copy predates the notes
    fold(job, connection, _outcome(job, STOPPED, "stopped on request"))
