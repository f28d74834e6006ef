"""`glue report RUN_ID`: the run as a page to look at (report.html) and its chart (timeline.png)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from glue import config
from glue.errors import GlueError
from glue.jobs import connection, naming
from glue.jobs.job import SUMMARY_NAME
from glue.jobs.locations import open_location
from glue.jobs.report.build import write_report
from glue.jobs.runstate import RunState

REPORTS_FOLDER = "reports"


def from_results(place: str, run_id: str, s3_endpoint_url: str | None) -> dict[str, Any]:
    """The summary a completed run left in <place>/<run id>/summary.json: for when Redis is
    gone, or is not reachable from here."""
    location = open_location(place, s3_endpoint_url)
    raw = location.read_bytes(f"{run_id}/{SUMMARY_NAME}")
    where = f"{location.url.rstrip('/')}/{run_id}/{SUMMARY_NAME}"
    if raw is None:
        raise GlueError(
            f"no run summary at {where}: it is written when the run completes "
            "(without --from-results, the report comes from Redis)"
        )
    try:
        summary = json.loads(raw)
    except ValueError as exc:
        raise GlueError(f"{where} is not JSON: {exc}") from None
    if not isinstance(summary, dict) or summary.get("run_id") != run_id:
        raise GlueError(f"{where} is not the summary of run {run_id!r}")
    return summary


def report_command(args: argparse.Namespace) -> int:
    settings = config.from_args(args)
    run_id = naming.check_run_id(args.run_id)
    if args.from_results:
        summary = from_results(args.from_results, run_id, settings.s3_endpoint_url)
    else:
        conn = connection.for_settings(settings)
        summary = RunState(conn, run_id).summary(settings.s3_endpoint_url)
    out_dir = Path(args.output) if args.output else Path(REPORTS_FOLDER) / run_id
    print(write_report(summary, out_dir))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="an HTML report of a run, with its timeline",
        description="Write report.html, a self-contained page (open it in any browser, no "
        "network needed), and timeline.png into a folder: a timeline of every job per host and "
        "slot, counts by status, the slowest scenarios with their expected duration, the "
        "failures with the tail of their log, the idle gap between jobs on each slot, and the "
        "reduced result. A run of more than 2,000 jobs gets merged timeline bars and its job "
        "list in pages beside the report (jobs-0001.html, ...). A run still going gets a report "
        "of what has finished. Prints the page's path.",
    )
    p.add_argument("run_id", metavar="RUN_ID", help="the run, as given to glue run --run-id")
    p.add_argument(
        "--output",
        metavar="DIR",
        help="folder for report.html, timeline.png and a big run's pages of jobs "
        f"(default: {REPORTS_FOLDER}/RUN_ID)",
    )
    p.add_argument(
        "--from-results",
        metavar="PLACE",
        help="read RUN_ID/summary.json under this results folder or s3:// prefix instead of "
        "asking Redis (it is there once the run has completed)",
    )
    p.add_argument(
        "--s3-endpoint-url", metavar="URL", help="S3 endpoint (Ceph RGW) for --from-results"
    )
    config.add_common_options(p, with_queue=False)
    p.set_defaults(func=report_command)
