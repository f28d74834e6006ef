"""The `glue` command. Each subcommand lives in its own *_cli module with a register()
function; this file only assembles them and turns GlueError into a one-line message."""

from __future__ import annotations

import argparse
import sys

import docker.errors

from glue import __version__, images_cli
from glue.errors import GlueError

# One entry per subcommand module, in the order `glue --help` lists them.
COMMANDS = [images_cli]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glue", description="simfleet glue: images, scenario sync and job runs."
    )
    parser.add_argument("--version", action="version", version=f"glue {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GlueError as exc:
        print(f"glue: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except docker.errors.DockerException as exc:
        print(f"glue: error: Docker engine: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("glue: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
