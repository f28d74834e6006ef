"""`glue rgw up|down`: the command-line face of glue.lab.store (the lab's S3 store)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from glue.lab import rgw, store


def rgw_up_command(args: argparse.Namespace) -> int:
    endpoint = store.up(http_port=args.http_port, https_port=args.https_port)
    print(f"glue: lab S3 store up: {endpoint.endpoint_http} and {endpoint.endpoint_https}")
    state = store.STATE_DIR
    print(f"glue: credentials in {state}/credentials.json (for a shell: . {state}/env)")
    return 0


def rgw_show_command(args: argparse.Namespace) -> int:
    endpoint = store.load()
    record = {
        **{k: str(v) for k, v in asdict(endpoint).items()},
        "endpoint_fleet": rgw.container_endpoint(endpoint.name),
    }
    print(json.dumps(record, indent=2))
    return 0


def rgw_bucket_command(args: argparse.Namespace) -> int:
    made = store.ensure_bucket(args.name)
    print(f"glue: bucket {args.name} {'created' if made else 'is there already'}")
    return 0


def rgw_down_command(args: argparse.Namespace) -> int:
    print(f"glue: lab S3 store {store.down(purge=args.purge)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    rgw = sub.add_parser(
        "rgw",
        help="start or stop the lab's S3 store (a one-node Ceph RADOS Gateway)",
        description="The lab's S3 store: a Ceph RADOS Gateway container with its data in the "
        f"Docker volume {store.VOLUME}, answering on 127.0.0.1 only.",
    )
    actions = rgw.add_subparsers(dest="rgw_command", required=True, metavar="ACTION")
    up = actions.add_parser(
        "up",
        help="start it (building the image if needed) and wait until it answers",
        description="Start the gateway, wait until it answers, and write its endpoints, keys "
        f"and CA to {store.STATE_DIR}. Ports apply when the container is first created.",
    )
    up.add_argument(
        "--http-port",
        type=int,
        default=store.DEFAULT_HTTP_PORT,
        help="host port on 127.0.0.1 for HTTP (default %(default)s)",
    )
    up.add_argument(
        "--https-port",
        type=int,
        default=store.DEFAULT_HTTPS_PORT,
        help="host port on 127.0.0.1 for HTTPS (default %(default)s)",
    )
    up.set_defaults(func=rgw_up_command)
    show = actions.add_parser(
        "show",
        help="print its endpoints and keys as JSON (secrets included: keep the output private)",
        description="Print what `up` recorded (endpoints on 127.0.0.1, CA path, keys, region) "
        "plus endpoint_fleet: the HTTP endpoint other containers, such as the lab's nodes, "
        "reach it at. Fails when the gateway is not running.",
    )
    show.set_defaults(func=rgw_show_command)
    bucket = actions.add_parser(
        "bucket", help="create a bucket in it unless it exists (for seeding scenarios)"
    )
    bucket.add_argument("name", metavar="NAME", help="the bucket's name")
    bucket.set_defaults(func=rgw_bucket_command)
    down = actions.add_parser(
        "down", help="stop and remove the container; the data volume stays unless --purge"
    )
    down.add_argument("--purge", action="store_true", help="also delete the data volume")
    down.set_defaults(func=rgw_down_command)
