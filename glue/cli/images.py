"""`glue images build`: the command-line face of glue.lab.images."""

from __future__ import annotations

import argparse

from glue.lab.images import SPECS, Builder


def images_build_command(args: argparse.Namespace) -> int:
    builder = Builder(log=lambda msg: print(f"glue: {msg}", flush=True))
    for name in args.names:
        builder.build(name, force=args.force)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
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
    build.set_defaults(func=images_build_command)
