"""The `glue` command: one entry point whose subcommands each live in their own module."""

from __future__ import annotations

import argparse
import sys

import docker.errors

from glue import __version__
from glue.images import SPECS, Builder, ImageError


def cmd_images_build(args: argparse.Namespace) -> int:
    builder = Builder(log=lambda msg: print(f"glue: {msg}", flush=True))
    for name in args.names:
        builder.build(name, force=args.force)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glue", description="simfleet glue: images, scenario sync and job runs."
    )
    parser.add_argument("--version", action="version", version=f"glue {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    images = sub.add_parser("images", help="build the project's container images locally")
    images_sub = images.add_subparsers(dest="images_command", required=True, metavar="ACTION")
    build = images_sub.add_parser(
        "build",
        help="build images (and the Debian base they need) when their inputs changed",
        description="Build images from images/ without pulling anything. An image whose "
        "inputs (Dockerfile folder, base image, build arguments) are unchanged is skipped.",
    )
    build.add_argument(
        "names",
        nargs="+",
        choices=sorted(SPECS),
        metavar="NAME",
        help=f"image to build: {', '.join(sorted(SPECS))}",
    )
    build.add_argument("--force", action="store_true", help="rebuild even when up to date")
    build.set_defaults(func=cmd_images_build)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ImageError as exc:
        print(f"glue: error: {exc}", file=sys.stderr)
        return 1
    except docker.errors.DockerException as exc:
        print(f"glue: error: Docker engine: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
