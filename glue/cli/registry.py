"""`glue registry`: browse and tidy the fleet's private registry through its v2 API."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from glue.atomic import atomic_write
from glue.cli.image import add_registry_options
from glue.registry import gc, listing, page
from glue.registry.access import resolve
from glue.registry.client import Client


def _client(args: argparse.Namespace) -> Client:
    return Client(
        resolve(args.registry, args.ca, args.username, args.authfile, args.registry_config)
    )


def ls_command(args: argparse.Namespace) -> int:
    client = _client(args)
    images = listing.list_images(client, args.pattern)
    key = (lambda i: i.created or "") if args.sort == "date" else (lambda i: (i.repository, i.tag))
    images.sort(key=key, reverse=args.sort == "date")
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "repository": i.repository,
                        "tag": i.tag,
                        "digest": i.digest,
                        "size": i.size,
                        "created": i.created,
                    }
                    for i in images
                ],
                indent=2,
            )
        )
        return 0
    rows = [("IMAGE", "DIGEST", "SIZE", "CREATED")] + [
        (
            f"{i.repository}:{i.tag}",
            i.digest[7:19],
            page.human_size(i.size),
            (i.created or "?")[:19].replace("T", " "),
        )
        for i in images
    ]
    widths = [max(len(row[c]) for row in rows) for c in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(row[:3])) + "  " + row[3])
    return 0


def inspect_command(args: argparse.Namespace) -> int:
    client = _client(args)
    repository, tag = listing.parse_reference(args.ref, client.access.address)
    image = listing.describe(client, repository, tag)
    print(
        json.dumps(
            {
                "reference": image.reference(client.access.pull_name),
                "digest": image.digest,
                "size": image.size,
                "created": image.created,
                "labels": image.labels,
                "layers": [
                    {"digest": layer.get("digest"), "size": layer.get("size")}
                    for layer in image.layers
                ],
                "history": [
                    {k: h[k] for k in ("created", "created_by", "empty_layer") if k in h}
                    for h in image.history
                ],
            },
            indent=2,
        )
    )
    return 0


def rm_command(args: argparse.Namespace) -> int:
    client = _client(args)
    repository, tag = listing.parse_reference(args.ref, client.access.address)
    gone = listing.remove(client, repository, tag, args.all_tags)
    for name in gone:
        print(f"deleted {repository}:{name}")
    print("the space comes back with 'glue registry gc'")
    return 0


def gc_command(args: argparse.Namespace) -> int:
    target = (
        gc.ContainerTarget(args.container)
        if args.container
        else gc.InventoryTarget(args.host, args.inventory, args.service or None)
    )
    report = gc.collect(target, args.dry_run)
    verb = "would free" if report.dry_run else "freed"
    print(
        f"{verb} {report.freed} bytes ({page.human_size(report.freed)}) in "
        f"{len(report.blobs)} blobs on {target.name}"
    )
    return 0


def page_command(args: argparse.Namespace) -> int:
    client = _client(args)
    images = listing.list_images(client)
    html = page.render(images, client.access.address, client.access.pull_name)
    with atomic_write(Path(args.file), mode=0o644) as out:
        out.write(html.encode())
    print(args.file)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    registry = sub.add_parser(
        "registry",
        help="list, inspect, delete and collect images in the fleet's registry",
        description="The fleet's private registry through its HTTP API v2, with its CA and "
        "login. Deleting frees no space until 'glue registry gc'.",
    )
    actions = registry.add_subparsers(dest="registry_command", required=True, metavar="ACTION")

    ls = actions.add_parser("ls", help="repositories and tags with digest, size and date")
    ls.add_argument(
        "pattern",
        nargs="?",
        default="*",
        metavar="PATTERN",
        help="glob on REPOSITORY or REPOSITORY:TAG",
    )
    ls.add_argument(
        "--sort",
        choices=("date", "name"),
        default="date",
        help="newest first, or by name (default: date)",
    )
    ls.add_argument("--json", action="store_true", help="JSON instead of a table")
    ls.set_defaults(func=ls_command)

    inspect = actions.add_parser("inspect", help="an image's layers, history and labels")
    inspect.add_argument("ref", metavar="REF", help="REPOSITORY:TAG or REPOSITORY@DIGEST")
    inspect.set_defaults(func=inspect_command)

    rm = actions.add_parser(
        "rm",
        help="delete a tag; refused when other tags share its digest",
        description="The API deletes by digest, which removes every tag sharing it: "
        "refused, naming them, unless --all-tags.",
    )
    rm.add_argument("ref", metavar="REF")
    rm.add_argument("--all-tags", action="store_true", help="delete every tag of that digest")
    rm.set_defaults(func=rm_command)

    collect = actions.add_parser(
        "gc",
        help="garbage-collect on the registry host and report the bytes freed",
        description="Runs docker-registry garbage-collect where the registry's storage is: "
        "on the inventory's registry host through Ansible (the registry is stopped meanwhile), "
        "or in a local container with --container.",
    )
    collect.add_argument("--dry-run", action="store_true", help="only say what would be freed")
    collect.add_argument(
        "--host", default="registry[0]", help="inventory host or pattern (default: %(default)s)"
    )
    collect.add_argument("--inventory", "-i", help="Ansible inventory (default: ansible.cfg's)")
    collect.add_argument(
        "--service",
        default=gc.SERVICE,
        help="the registry's systemd service, stopped while collecting ('' for none; "
        "default: %(default)s)",
    )
    collect.add_argument("--container", help="a local registry container instead of a host")
    collect.set_defaults(func=gc_command)

    html = actions.add_parser("page", help="write a self-contained HTML page of the registry")
    html.add_argument("file", metavar="FILE")
    html.set_defaults(func=page_command)

    for parser in (ls, inspect, rm, html):
        add_registry_options(parser)
