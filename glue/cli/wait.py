"""`glue wait RUN_ID`: block until a run is complete, or give up after --timeout seconds.

Made for callers that cannot show a live progress bar, such as run.yml: each call waits a
while, prints one line of progress, and says by its exit status whether to call again.
"""

from __future__ import annotations

import argparse
import time

from glue import config
from glue.errors import GlueError
from glue.jobs import connection, naming, progress, status
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
    state = RunState(connection.connect(settings.redis_url), run_id)
    state.spec()  # a run this Redis does not know is an error, not an endless wait
    deadline = time.monotonic() + args.timeout if args.timeout is not None else None
    while not state.complete():
        if deadline is not None and time.monotonic() >= deadline:
            print(progress_line(state))
            raise StillRunning(f"run {run_id} is not complete yet")
        time.sleep(POLL_SECONDS)
    print(progress_line(state))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "wait",
        help="wait until a run is complete",
        description="Wait until every scenario of the run has an outcome, then print one "
        "progress line and exit 0. With --timeout, give up after that many seconds, print the "
        f"progress so far and exit {STILL_RUNNING}, so a script can report progress between "
        "calls. Failed scenarios do not make it fail: see glue result.",
    )
    p.add_argument("run_id", metavar="RUN_ID", help="the run, as given to glue run --run-id")
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"wait at most this long, then exit {STILL_RUNNING} if the run is not complete",
    )
    config.add_common_options(p, with_queue=False)
    p.set_defaults(func=wait_command)
