"""`glue status RUN_ID`: how many scenarios of a run are in each state, overall and per host."""

from __future__ import annotations

import argparse
import json

from glue import config
from glue.jobs import connection, naming, status
from glue.jobs.runstate import RunState


def status_command(args: argparse.Namespace) -> int:
    settings = config.from_args(args)
    run_id = naming.check_run_id(args.run_id)
    conn = connection.connect(settings.redis_url)
    tally = status.tally(conn, RunState(conn, run_id))
    print(json.dumps(tally.as_dict(), indent=2) if args.json else status.render(tally))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status",
        help="counts of a run's scenarios by state and by host",
        description="Print how many scenarios of a run are queued, running, waiting for a "
        "retry, succeeded, failed, timed out, lost or stopped, overall and per host.",
    )
    p.add_argument("run_id", metavar="RUN_ID", help="the run, as given to glue run --run-id")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    config.add_common_options(p, with_queue=False)
    p.set_defaults(func=status_command)
