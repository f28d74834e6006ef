"""`glue runs`: the runs this Redis holds; `glue runs delete ID [--results]` removes one."""

from __future__ import annotations

import argparse
import json

from glue import config
from glue.jobs import connection, naming, runstate
from glue.jobs.locations import open_location
from glue.jobs.runstate import RunState

COLUMNS = ("run_id", "created", "state", "done", "total", "redis_bytes", "counts")


def _table(rows: list[dict]) -> str:
    cells = [
        [
            r["run_id"],
            r["created"] or "-",
            r["state"],
            str(r["done"]),
            str(r["total"]),
            str(r["redis_bytes"]),
            ", ".join(f"{k} {v}" for k, v in r["counts"].items()) or "-",
        ]
        for r in rows
    ]
    head = ["run", "created", "state", "done", "total", "redis bytes", "counts"]
    widths = [max(len(row[i]) for row in [head, *cells]) for i in range(len(head) - 1)]
    return "\n".join(
        "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in [head, *cells]
    )


def list_command(args: argparse.Namespace) -> int:
    settings = config.from_args(args)
    conn = connection.for_settings(settings)
    rows = [RunState(conn, run_id).info() for run_id in runstate.run_ids(conn)]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif rows:
        print(_table(rows))
    else:
        print("no runs in this Redis")
    return 0


def delete_command(args: argparse.Namespace) -> int:
    settings = config.from_args(args)
    run_id = naming.check_run_id(args.run_id)
    state = RunState(connection.for_settings(settings), run_id)
    results = state.spec()["results"]  # raises for a run this Redis does not know
    jobs = state.delete()
    print(f"run {run_id}: its state and {jobs} RQ job(s) removed from Redis")
    if args.results:
        open_location(results, settings.s3_endpoint_url).remove_tree(run_id)
        print(f"run {run_id}: its results under {results} removed")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "runs",
        help="list the runs in Redis, or delete one",
        description="List every run this Redis holds: its id, when it was created, whether it "
        "is complete, its outcomes by status and the bytes its keys take. A completed run's "
        "keys expire run_keep_days after it completed. `glue runs delete ID` removes a run's "
        "keys and RQ jobs at once (with --results, its results too).",
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    config.add_common_options(p, with_queue=False)
    p.set_defaults(func=list_command)
    actions = p.add_subparsers(
        dest="action", metavar="ACTION", help="delete: remove one run (without: list them)"
    )
    d = actions.add_parser(
        "delete",
        help="remove a run's keys and RQ jobs from Redis",
        description="Remove the run's state and its RQ jobs (queued ones leave their queue; a "
        "job still running folds nothing once its run is gone).",
    )
    d.add_argument("run_id", metavar="RUN_ID", help="the run, as given to glue run --run-id")
    d.add_argument(
        "--results",
        action="store_true",
        help="also remove <results>/<run-id>/ (every scenario's results, logs and the summary)",
    )
    config.add_common_options(d, with_queue=False)
    d.set_defaults(func=delete_command)
