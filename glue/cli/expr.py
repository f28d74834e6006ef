"""`glue expr "EXPR" --tasks FILE`: run a task expression on the workers, print its value."""

from __future__ import annotations

import argparse
import json

from glue import config
from glue.expr import runner
from glue.expr.functions import FunctionFile
from glue.jobs import connection

LANGUAGE = """\
language:
  a | b    run a and b at once; the value is the list [a, b]
  a; b     run b after a has finished; the value is b's
  a + b    the sum of the values (numbers added, lists joined)
  ( )      grouping; + binds tighter than |, which binds tighter than ;
A task mentioned twice runs once and its value is reused, so in
"(a | b | c); d; a + b + c + d" each task runs once and the value is a+b+c+d.

tasks file: a Python file; each public function taking no arguments is a task.
It returns its value (JSON), or a string: a shell command run on the worker,
whose results/result.json under $SIMFLEET_IO, or else its stdout as JSON, is the value.
"""


def expr_command(args: argparse.Namespace) -> int:
    settings = config.from_args(args)
    tasks = FunctionFile.read(args.tasks)
    conn = connection.for_settings(settings)
    timeout = args.timeout if args.timeout is not None else settings.timeout
    submitted = runner.submit(conn, settings.queue, args.expression, tasks, timeout)
    value = runner.wait(conn, submitted)
    print(json.dumps(value))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "expr",
        help="run a task expression such as '(a | b); a + b' on the workers",
        description="Compile a task expression into RQ jobs with dependencies, run it on the "
        "queue's workers (glue worker) and print its value as JSON. A failing task ends the "
        "expression with its name and error and a non-zero exit.",
        epilog=LANGUAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("expression", metavar="EXPR", help="the expression, e.g. '(a | b); a + b'")
    p.add_argument("--tasks", required=True, metavar="FILE", help="Python file of tasks")
    p.add_argument(
        "--timeout",
        type=int,
        metavar="SECONDS",
        help="limit for each task (default: the timeout setting)",
    )
    config.add_common_options(p)
    p.set_defaults(func=expr_command)
