"""`glue wait RUN_ID`: block until a run is complete, or give up after --timeout seconds.

Made for callers that cannot show a live progress bar, such as run.yml: each call waits a
while, prints one line of progress, and says by its exit status whether to call again. An
unreachable queue is waited for with one line (exit status 4 once --timeout has passed), and
scenarios with no job and no outcome (an interrupted submit, a failover) are queued again.
"""

from __future__ import annotations

import argparse
import time

from glue import config
from glue.errors import GlueError
from glue.jobs import connection, naming, progress, status
from glue.jobs.outage import Rider
from glue.jobs.runstate import RunState

POLL_SECONDS = 0.5
STILL_RUNNING = 3


class StillRunning(GlueError):
    """The run was not complete when --timeout ran out; exit status 3, not 1."""

    exit_code = STILL_RUNNING


def progress_line(state: RunState) -> str:
    """`run ID [###...] done/total  succeeded 12, running 6, ...` from the run's tally."""
    tally = status.tally(state.r, state)
    counts = ", ".join(f"{name} {count}" for name, count in tally.by_state.items())
    return f"run {state.run_id} {progress.bar(tally.done, tally.total)}  {counts}"


def wait_command(args: argparse.Namespace) -> int:
    settings = config.from_args(args)
    run_id = naming.check_run_id(args.run_id)
    deadline = time.monotonic() + args.give_up_after if args.give_up_after is not None else None
    ride = Rider(deadline)
    state = RunState(ride(lambda: connection.for_settings(settings)), run_id)
    ride(state.spec)  # a run this Redis does not know is an error, not an endless wait
    complete = progress.until_complete(state, settings.queue, ride, poll=POLL_SECONDS)
    print(ride(lambda: progress_line(state)))
    if not complete:
        raise StillRunning(f"run {run_id} is not complete yet")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "wait",
        help="wait until a run is complete",
        description="Wait until every scenario of the run has an outcome, then print one "
        "progress line and exit 0. With --timeout, give up after that many seconds, print the "
        f"progress so far and exit {STILL_RUNNING}, so a script can report progress between "
        "calls. Failed scenarios do not make it fail: see glue result. While the queue is "
        "unreachable it says so in one line and retries; if it still is when --timeout "
        "passes, it exits 4. Scenarios with no job and no outcome (a submit that was "
        "interrupted, or jobs lost in a failover) are queued again, in --queue, with a line "
        "saying how many; it looks for them when it starts, after an outage and every minute.",
    )
    p.add_argument("run_id", metavar="RUN_ID", help="the run, as given to glue run --run-id")
    p.add_argument(
        "--timeout",
        dest="give_up_after",  # not the setting `timeout`, a scenario's time limit
        type=float,
        metavar="SECONDS",
        help=f"wait at most this long, then exit {STILL_RUNNING} if the run is not complete",
    )
    config.add_common_options(p)
    p.set_defaults(func=wait_command)
