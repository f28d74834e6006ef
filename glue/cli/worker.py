"""`glue worker --slots N`: run N RQ workers on this host until stopped."""

from __future__ import annotations

import argparse
import logging

from glue import config
from glue.jobs import worker

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def worker_command(args: argparse.Namespace) -> int:
    settings = config.from_args(args)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")
    worker.run_pool(settings, burst=args.burst, logging_level=args.log_level)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    defaults = config.Settings
    p = sub.add_parser(
        "worker",
        help="run job slots on this host: N RQ workers taking jobs from the queue",
        description="Run N RQ workers (a pool; a worker that dies is started again) that take "
        "jobs until stopped. SIGTERM or Ctrl-C stops them: a running job's container or "
        "process is killed and removed and the job goes back to the front of the queue. A job "
        "whose worker died (SIGKILL, host lost) is run again elsewhere once it missed three "
        "heartbeats and a worker did its maintenance: within about 3 x heartbeat + "
        "maintenance-interval seconds.",
    )
    p.add_argument("--slots", type=int, metavar="N", help="jobs at once (default: CPU count)")
    p.add_argument(
        "--burst", action="store_true", help="stop once the queue is empty, instead of waiting"
    )
    p.add_argument(
        "--heartbeat",
        type=int,
        metavar="SECONDS",
        help=f"how often a running job proves it is alive (default: {defaults.heartbeat})",
    )
    p.add_argument(
        "--maintenance-interval",
        type=int,
        metavar="SECONDS",
        help="how often workers look for jobs whose worker died "
        f"(default: {defaults.maintenance_interval})",
    )
    p.add_argument(
        "--workdir", metavar="DIR", help="where io-dirs are made (default: the temp folder)"
    )
    p.add_argument(
        "--venv-root",
        metavar="DIR",
        help=f"where venvs named by --venv live (default: {defaults.venv_root})",
    )
    p.add_argument("--s3-endpoint-url", metavar="URL", help="S3 endpoint (Ceph RGW)")
    p.add_argument(
        "--log-level", choices=LOG_LEVELS, default="INFO", help="what workers log (default: INFO)"
    )
    config.add_common_options(p)
    p.set_defaults(func=worker_command)
