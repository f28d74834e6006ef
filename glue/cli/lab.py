"""`glue lab images build`: the project's own images (base, node, ceph, executor) that setup and
the local lab need; the command-line face of glue.lab.images. A team's own job images are
`glue image` (glue.cli.image)."""

from __future__ import annotations

import argparse

from glue.lab.images import SPECS, Builder


def images_build_command(args: argparse.Namespace) -> int:
    builder = Builder(log=lambda msg: print(f"glue: {msg}", flush=True))
    for name in args.names:
        builder.build(name, force=args.force)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    lab = sub.add_parser("lab", help="the local lab's own parts (the project's images)")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True, metavar="PART")
    images = lab_sub.add_parser(
        "images",
        help="build the project's images: base, node, ceph, executor",
        description="The project's own images, which setup and the lab use. To make the image "
        "your scenarios run in, see 'glue image' instead.",
    )
    images_sub = images.add_subparsers(dest="images_command", required=True, metavar="ACTION")
    build = images_sub.add_parser(
        "build",
        help="build images (and the Debian base they need) when their inputs changed",
        description="Build images from images/ without pulling anything. An image whose "
        "inputs (Dockerfile folder, base image, build arguments) are unchanged is skipped. "
        "Your own job image: 'glue image build'.",
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
