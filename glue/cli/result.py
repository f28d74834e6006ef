"""`glue result RUN_ID`: the run summary as JSON."""

from __future__ import annotations

import argparse
import json

from glue import config
from glue.jobs import connection, naming
from glue.jobs.runstate import RunState


def result_command(args: argparse.Namespace) -> int:
    settings = config.from_args(args)
    run_id = naming.check_run_id(args.run_id)
    conn = connection.for_settings(settings)
    summary = RunState(conn, run_id).summary(settings.s3_endpoint_url)
    print(json.dumps(summary, indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "result",
        help="the run summary as JSON",
        description="Print the run summary: counts by status and per host, the reduced value "
        "of each reducer, the failures with the tail of their log, and every job's host, slot, "
        "start and end, and each retried or rerun scenario's earlier attempts. "
        "`complete` says whether every scenario has an outcome; once it does, "
        "the same JSON is also in <results>/<run-id>/summary.json.",
    )
    p.add_argument("run_id", metavar="RUN_ID", help="the run, as given to glue run --run-id")
    config.add_common_options(p, with_queue=False)
    p.set_defaults(func=result_command)
