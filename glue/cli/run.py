"""`glue run SOURCE --run-id ID`: queue one job per scenario, optionally wait for the answer."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

import redis

from glue import config
from glue.errors import GlueError
from glue.jobs import connection, history, naming, order, progress, reducers, sandbox, submit
from glue.jobs.executor import FAILED, TIMED_OUT
from glue.jobs.job import ERROR, LOST, STOPPED, publish_summary
from glue.jobs.locations import Location, open_location, results_beside
from glue.jobs.outage import Rider
from glue.jobs.runstate import RunState

RERUNNABLE = (ERROR, FAILED, TIMED_OUT, LOST, STOPPED)


def run_command(args: argparse.Namespace) -> int:
    settings = config.from_args(args)
    run_id = naming.check_run_id(args.run_id)
    statuses = rerun_statuses(args.rerun) if args.rerun is not None else None
    reducers.parse_all(settings.reduce)
    hints = order.read_hints(args.durations) if args.durations else {}
    source = open_location(args.source, settings.s3_endpoint_url)
    results = settings.results or results_beside(args.source)
    # Workers check every job against their own bounds; with a glue.yml we know them here too.
    profile = sandbox.Profile.of(settings)
    if config.config_path(args):
        sandbox.check(profile, settings)
    listing = source.scenarios(settings.pattern, exclude=results)
    keys = []
    for key, why in listing.refused:
        print(f"glue: skipping key {key!r}: {why}", file=sys.stderr)
    for key in listing.keys:
        why = sandbox.key_refusal(key)
        if why:
            print(f"glue: skipping key {key!r}: {why}", file=sys.stderr)
        else:
            keys.append(key)
    listing = listing._replace(keys=keys)
    if not listing.keys:
        raise GlueError(f"no scenarios matching {settings.pattern!r} under {source.url}")
    results = open_location(results, settings.s3_endpoint_url).url
    if args.dry_run:
        print("\n".join(listing.keys))
        print(
            f"glue: run {run_id}: {len(listing.keys)} scenarios under {source.url}; "
            "dry run, nothing queued",
            file=sys.stderr,
        )
        return 0
    conn = connection.for_settings(settings)
    spec = submit.run_spec(settings, run_id, source.url, results)
    if statuses:
        done = Rider()(lambda: rerun(conn, settings, run_id, statuses))
    else:
        done = Rider()(
            lambda: queue_ordered(conn, settings, spec, source, listing.keys, hints, args.order)
        )
    print(
        f"glue: run {run_id}: {len(listing.keys)} scenarios, {done.queued} queued, "
        f"{done.skipped} already queued or done; results in {results}",
        file=sys.stderr,
    )
    if not args.wait:
        return 0
    state = RunState(conn, run_id)
    progress.wait(state, settings.queue)
    # The last job writes it too, a moment after its fold; once --wait returns it is there.
    summary = Rider()(lambda: publish_summary(state, settings.s3_endpoint_url))
    unsuccessful = summary["done"] - summary["counts"].get("succeeded", 0)
    if unsuccessful:
        print(
            f"glue: {unsuccessful} of {summary['total']} scenarios did not succeed: "
            f"glue result {run_id}",
            file=sys.stderr,
        )
    print(json.dumps(summary["reduced"]))
    return 0


def queue_ordered(
    conn: redis.Redis,
    settings: config.Settings,
    spec: dict,
    source: Location,
    keys: list[str],
    hints: dict[str, float],
    how: str,
) -> submit.Submitted:
    """Queue the run's scenarios longest expected first (or in listing order), each job
    carrying its expected duration and, where the queue has a history, its content id."""
    # The history is kept per queue (job.origin), and a run's jobs wait in its routed queue.
    queue = spec.get("queue") or settings.queue
    # Content ids only order a run whose queue has a history. Without one, a local folder's
    # (a read of every file, 1.3 s per 100,000) are left to the jobs, each hashing its fetched
    # copy, so the first run still records the history the next one is ordered by.
    useful = not source.reads_content or history.recorded(conn, queue)
    contents = source.content_ids(keys) if useful else {}
    known = history.lookup(conn, queue, contents.values())
    planned = order.plan(keys, contents, known, hints, how)
    extra = {
        p.scenario: {"content": contents.get(p.scenario), "expected": p.expected} for p in planned
    }
    # Queued under deterministic ids: after an outage, submitting again repeats nothing.
    done = submit.submit(conn, settings, spec, [p.scenario for p in planned], extra)
    # Said once the run took them: a refused submit's only line is the reason.
    print(f"glue: run {spec['run_id']}: {order.describe(planned, how)}", file=sys.stderr)
    return done


def rerun(
    conn: redis.Redis, settings: config.Settings, run_id: str, statuses: set[str]
) -> submit.Submitted:
    """Reopen the run's scenarios that ended in one of `statuses` and queue them again with
    the run's own settings (its timeout and retries; the jobs carry its stored spec)."""
    state = RunState(conn, run_id)
    spec = state.spec()
    reopened = state.reopen(statuses)
    settings = replace(settings, timeout=spec["timeout"], retries=spec["retries"])
    return submit.submit(conn, settings, spec, sorted(reopened))


def rerun_statuses(text: str) -> set[str]:
    """The statuses of --rerun, checked: final ones only, never succeeded."""
    statuses = {s.strip() for s in text.split(",") if s.strip()}
    unknown = statuses - set(RERUNNABLE)
    if not statuses or unknown:
        raise GlueError(
            f"--rerun {text!r}: give one or more of {', '.join(RERUNNABLE)} "
            "(succeeded scenarios are not rerun)"
        )
    return statuses


def register(sub: argparse._SubParsersAction) -> None:
    defaults = config.Settings
    p = sub.add_parser(
        "run",
        help="queue one job per scenario of SOURCE in Redis (RQ)",
        description="Queue one RQ job per scenario file under SOURCE. Job ids come from the run "
        "id and the scenario, so submitting the same run again queues only scenarios that are "
        "neither queued, running nor done (a resumed run repeats nothing). Workers started "
        "with `glue worker` run the jobs and fold each result into the run's reduction as it "
        "finishes. Settings come from glue.yml, then GLUE_* variables, then these flags.",
    )
    p.add_argument("source", metavar="SOURCE", help="scenario folder, or s3://bucket/prefix")
    p.add_argument("--run-id", required=True, help="name of the run: letters, digits, - and _")
    p.add_argument(
        "--executor",
        choices=config.EXECUTORS,
        help=f"run each scenario in a container or as a process (default: {defaults.executor})",
    )
    p.add_argument("--image", help=f"container image (default: {defaults.image})")
    p.add_argument(
        "--command",
        help="command run for each scenario; {scenario} is the scenario file's path, {io} the "
        f"io-dir's (default: {defaults.command!r})",
    )
    p.add_argument("--pattern", help=f"which files are scenarios (default: {defaults.pattern!r})")
    p.add_argument(
        "--timeout",
        type=int,
        metavar="SECONDS",
        help=f"a scenario running longer is killed and reported timed out "
        f"(default: {defaults.timeout})",
    )
    p.add_argument(
        "--retries",
        type=int,
        metavar="N",
        help="times a job runs again after it failed, timed out or lost its worker "
        f"(default: {defaults.retries})",
    )
    p.add_argument(
        "--results",
        metavar="PLACE",
        help="folder or s3:// prefix for results (default: `results` beside SOURCE)",
    )
    p.add_argument(
        "--reduce",
        action="append",
        metavar="SPEC",
        help="fold results as they arrive; repeatable: sum:FIELD, mean:FIELD, min:FIELD, "
        "max:FIELD, count (by status), concat, python:MODULE:FUNCTION (default: count)",
    )
    p.add_argument("--cpus", type=float, help="CPU limit per container (docker executor)")
    p.add_argument("--memory", help="memory limit per container, e.g. 512m (docker executor)")
    p.add_argument(
        "--gpus",
        type=int,
        metavar="N",
        help="GPUs per job: the job goes only to slots owning N or more and gets N of its "
        "slot's own, by id (a container's device request; NVIDIA_VISIBLE_DEVICES and "
        "CUDA_VISIBLE_DEVICES for a process). Refused when no live slot owns N (default: 0)",
    )
    p.add_argument(
        "--require",
        action="append",
        metavar="LABEL",
        help="repeatable: run only on hosts with this label (the inventory's worker_labels, "
        "glue.yml labels); refused when no live slot has them all",
    )
    p.add_argument(
        "--gpu-slots-take-cpu",
        action=argparse.BooleanOptionalAction,
        help="let GPU slots take this run's CPU jobs when they have no GPU job to run "
        "(default: CPU jobs only on CPU slots, so a GPU is never held by a CPU job)",
    )
    p.add_argument(
        "--venv",
        help="venv or conda env to run in (process executor): a path, or a name under "
        "the workers' venv_root",
    )
    p.add_argument(
        "--order",
        choices=order.ORDERS,
        default=order.EXPECTED,
        help="queue the scenarios longest expected first (from the queue's history of each "
        "scenario's content, then --durations; the unknown last, in listing order), or in "
        "listing order (default: expected)",
    )
    p.add_argument(
        "--durations",
        metavar="FILE",
        help="expected seconds per scenario for those without history: a JSON object "
        "{scenario: seconds} or CSV rows scenario,seconds",
    )
    _add_sandbox_options(p)
    p.add_argument("--s3-endpoint-url", metavar="URL", help="S3 endpoint (Ceph RGW)")
    p.add_argument(
        "--rerun",
        metavar="STATUS[,STATUS]",
        help="queue again the scenarios of an existing run that ended in these statuses (e.g. "
        "error,timed_out), with the run's own settings; every other outcome is kept, and the "
        "summary keeps each earlier attempt's host and reason",
    )
    p.add_argument(
        "--run-keep-days",
        type=float,
        metavar="DAYS",
        help="days the run's state stays in Redis after it completes (default: "
        f"{defaults.run_keep_days}; results stay in the results place)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="list the scenarios the run would have (one per line) and queue nothing; "
        "needs no Redis",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="wait for the run with a progress bar, then print the reduced result as JSON "
        "(exit 0 once the run is complete, also when scenarios failed: see glue result)",
    )
    config.add_common_options(p)
    p.set_defaults(func=run_command)


SANDBOX_HELP = """The job sandbox is on by default; a run may relax it only as far as the
workers' glue.yml allows (allow_networks, allow_writable_root, max_pids_limit, max_shm_size).
Containers run as a non-root uid, with every capability dropped, no-new-privileges, Docker's
default seccomp profile, a pids limit, a read-only root with tmpfs /tmp and HOME, --init,
private IPC, swap equal to --memory, only the io-dir mounted (plus --secret files,
read-only), on the jobs network. Process jobs run as the slot's own unprivileged account
with an allowlisted environment, and every process of that account is killed when the job
ends."""


def _add_sandbox_options(p: argparse.ArgumentParser) -> None:
    defaults = config.Settings
    group = p.add_argument_group("sandbox", SANDBOX_HELP)
    group.add_argument(
        "--network",
        metavar="NAME",
        help="network of the job's container: jobs (the workers' job_network, no route to the "
        "fleet's services), none (no network at all), or another name a worker allows "
        f"(default: {defaults.network})",
    )
    group.add_argument(
        "--read-only-root",
        action=argparse.BooleanOptionalAction,
        help="container root filesystem read-only; --no-read-only-root needs "
        "allow_writable_root on the workers (default: read-only)",
    )
    group.add_argument(
        "--pids-limit",
        type=int,
        metavar="N",
        help=f"most processes and threads in a container, bounded by the workers' "
        f"max_pids_limit (default: {defaults.pids_limit})",
    )
    group.add_argument(
        "--shm-size",
        metavar="SIZE",
        help=f"/dev/shm size, e.g. 1g for PyTorch data loaders, bounded by the workers' "
        f"max_shm_size (default: {defaults.shm_size})",
    )
    group.add_argument(
        "--secret",
        dest="secrets",
        action="append",
        metavar="NAME",
        help="repeatable: the worker's secret file NAME (in its secrets_dir), given to the job "
        "read-only as $SIMFLEET_SECRETS/NAME (/run/secrets/NAME in a container); the value is "
        "never in job.json, logs or the summary",
    )
    group.add_argument(
        "--env",
        action="append",
        metavar="NAME=VALUE",
        help="repeatable: an environment variable for the job (not for secrets: it is stored "
        "with the job); jobs get no other variable of the worker but proxies, LANG and TZ",
    )
