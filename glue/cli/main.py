"""The `glue` command. Each subcommand lives in its own *_cli module with a register()
function; this file only assembles them and turns GlueError into a one-line message."""

from __future__ import annotations

import argparse
import gc
import importlib
import sys

from glue import __version__
from glue.errors import GlueError

# One entry per subcommand: its name and the module whose register() adds it, in the order
# `glue --help` lists them. A module is imported only when its command runs (or for --help),
# so `glue sync` does not pay for importing Docker, Redis and RQ.
COMMANDS = {
    "image": "glue.cli.image",
    "registry": "glue.cli.registry",
    "lab": "glue.cli.lab",
    "sync": "glue.cli.sync",
    "rgw": "glue.cli.rgw",
    "run": "glue.cli.run",
    "worker": "glue.cli.worker",
    "status": "glue.cli.status",
    "wait": "glue.cli.wait",
    "result": "glue.cli.result",
    "runs": "glue.cli.runs",
    "report": "glue.cli.report",
    "expr": "glue.cli.expr",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser for every subcommand, or for `only` that one when it names one."""
    parser = argparse.ArgumentParser(
        prog="glue", description="simfleet glue: images, scenario sync and job runs."
    )
    parser.add_argument("--version", action="version", version=f"glue {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        if only in (None, name):
            importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    # Importing a command's libraries (botocore, docker, rq) makes hundreds of thousands of
    # long-lived objects, which the cyclic GC would scan over and over: a fifth of the CPU of
    # a `glue sync` with nothing to do. Import with the GC off, then freeze what exists so
    # later collections skip it; the command itself runs with the GC on.
    gc.disable()
    try:
        parser = build_parser(command if command in COMMANDS else None)
    finally:
        gc.freeze()
        gc.enable()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except GlueError as exc:
        print(f"glue: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        # Docker is imported only by the commands that use it; if it was never imported, this
        # cannot be one of its errors.
        docker_errors = sys.modules.get("docker.errors")
        if docker_errors is None or not isinstance(exc, docker_errors.DockerException):
            raise
        print(f"glue: error: Docker engine: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("glue: interrupted", file=sys.stderr)
        return 130


def console_script() -> None:
    """The `glue` console script: main(), then exit."""
    code = main()
    # At exit Python makes one more full garbage collection over every object not frozen:
    # for a command's objects (a botocore client, a listing) about 15 ms of a 0.2 s no-op
    # sync, spent on objects that are about to go anyway.
    gc.freeze()
    sys.exit(code)
