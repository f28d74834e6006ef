"""`glue status RUN_ID`: how many scenarios of a run are in each state, overall and per host."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict

from glue import config
from glue.jobs import connection, naming, pause, status
from glue.jobs.outage import Rider
from glue.jobs.runstate import RunState

STATUS_TIMEOUT = 30.0


def status_command(args: argparse.Namespace) -> int:
    settings = config.from_args(args)
    run_id = naming.check_run_id(args.run_id)
    ride = Rider(time.monotonic() + args.give_up_after)
    conn = ride(lambda: connection.for_settings(settings))
    tally = ride(lambda: status.tally(conn, RunState(conn, run_id)))
    health = ride(lambda: status.queue_health(conn))
    run_queue = ride(lambda: status.run_queue(conn, RunState(conn, run_id)))
    paused = ride(lambda: pause.all_paused(conn))
    if args.json:
        pauses = [asdict(p) for p in paused]
        out = {**tally.as_dict(), "queue": health, "run_queue": run_queue, "paused_slots": pauses}
        print(json.dumps(out, indent=2))
    else:
        queues = [status.render_run_queue(run_queue), status.render_queue(health)]
        parts = [status.render(tally), status.render_paused(paused)]
        print("\n\n".join(parts) + "\n\n" + "\n".join(line for line in queues if line))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status",
        help="counts of a run's scenarios by state and by host",
        description="Print how many scenarios of a run are queued, running, waiting for a "
        "retry, succeeded, failed, timed out, lost or stopped, overall and per host; the "
        "fleet's slots paused for executor errors, with why and until when; then the run's "
        "queue (named by the GPUs and labels its jobs need), the jobs waiting in it and the "
        "live slots that take from it; then which Redis is the queue's primary and whether "
        "its replicas are in sync.",
    )
    p.add_argument("run_id", metavar="RUN_ID", help="the run, as given to glue run --run-id")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--timeout",
        dest="give_up_after",  # not the setting `timeout`, a scenario's time limit
        type=float,
        default=STATUS_TIMEOUT,
        metavar="SECONDS",
        help="while the queue is unreachable, retry this long, then exit 4 "
        f"(default: {STATUS_TIMEOUT:g})",
    )
    config.add_common_options(p, with_queue=False)
    p.set_defaults(func=status_command)
