"""`glue sync SRC DST`: the command-line face of glue.s3.sync (options, progress, summary)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from glue.s3.client import S3Settings
from glue.s3.keys import Filters
from glue.s3.retries import ATTEMPTS
from glue.s3.sync import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, Options, sync

DESCRIPTION = """\
Make DST match SRC, where one is s3://bucket/prefix and the other a local folder (either way
round, like `aws s3 sync`). The prefix is read as a folder: s3://b/data and s3://b/data/ both
mean the keys under "data/". Objects are compared by size and ETag, so an object changed on S3
with the same size is copied again; multipart ETags are understood. Every download is written
to a temporary file and renamed into place, so an interrupted sync never leaves a partial file
under a final name; the next sync removes the leftovers and finishes the job."""

EPILOG = """\
filters:
  --include and --exclude take shell globs (*, ?, [abc]) matched against the path relative to
  the synced folder, with "/" separators; * and ? also match "/". All paths are included to
  start with; the rules are applied in the order given and the last one that matches decides.
  Examples: --exclude '*.log' (any depth), --exclude 'tmp/*' (a folder),
  --exclude '*' --include '*.py' (only Python files). With --delete, excluded paths are
  neither copied nor deleted.

keys that are never written:
  keys ending in "/" (folder markers) are skipped. Keys that would land outside DST or alias
  another path (absolute keys, "..", "." or empty segments, backslashes, control characters)
  are refused and named, and so is a key that is also the folder of other keys ("a" next to
  "a/b"); everything else still syncs.

state:
  DST (or SRC, when uploading) gets .glue-sync.json, which remembers each file's ETag, size and
  mtime so a sync with nothing to do costs one listing and no downloads, and .glue-sync.lock,
  which stops two syncs of the same folder at once. Deleting them is safe: ETags are then
  recomputed from the files.

S3 settings:
  endpoint, region and credentials come from the standard AWS settings: AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL,
  AWS_CA_BUNDLE, ~/.aws/config and ~/.aws/credentials; the S3 connection options above
  override them. Requests that fail with 5xx, throttling (SlowDown) or connection errors are
  retried with backoff (AWS_RETRY_MODE, AWS_MAX_ATTEMPTS for listings, uploads and deletes),
  and each object is tried up to {attempts} times in all.

exit status:
  0 when everything is in sync; 1 when any object was refused or failed, or on an error such
  as a bad URL, a missing bucket, wrong credentials or an unreachable endpoint (one line on
  stderr); 2 for bad options; 130 when interrupted."""


class Printer:
    """Problem lines, dry-run lines and, on a terminal only, a one-line progress bar."""

    WIDTH = 30

    def __init__(self, stream: TextIO, show_progress: bool) -> None:
        self.stream = stream
        self.show_progress = show_progress and stream.isatty()
        self.drawn = False
        self.last = 0.0

    def clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K")
            self.drawn = False

    def problem(self, kind: str, name: str, reason: str) -> None:
        self.clear()
        print(f"glue sync: {kind}: {name}: {reason}", file=self.stream, flush=True)

    def planned(self, action: str, name: str) -> None:
        print(f"(dry run) {action}: {name}", flush=True)

    def progress(self, done: int, total: int, nbytes: int) -> None:
        now = time.monotonic()
        if not self.show_progress or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        filled = self.WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {done}/{total}  {nbytes / 1e6:.1f} MB")
        self.stream.flush()
        self.drawn = True


class FilterAction(argparse.Action):
    """Collects --include and --exclude into one list, keeping their command-line order."""

    def __call__(self, parser, namespace, value, option_string=None) -> None:
        rules = list(getattr(namespace, self.dest) or [])
        rules.append((option_string == "--include", value))
        setattr(namespace, self.dest, rules)


def sync_command(args: argparse.Namespace) -> int:
    settings = S3Settings(
        endpoint_url=args.endpoint_url,
        region=args.region,
        profile=args.profile,
        ca_bundle=args.ca_bundle,
        verify_tls=not args.no_verify_ssl,
        addressing_style=args.addressing_style,
        checksums=args.checksums,
    )
    options = Options(
        delete=args.delete,
        dry_run=args.dry_run,
        filters=Filters(tuple(args.filters or ())),
        concurrency=args.concurrency,
    )
    printer = Printer(sys.stderr, show_progress=not args.no_progress)
    summary = sync(args.src, args.dst, options, printer, settings)
    printer.clear()
    print(f"glue sync: {summary.line(dry_run=args.dry_run)}", flush=True)
    return 0 if summary.ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sync",
        help="sync an S3 prefix and a local folder, either way round",
        description=DESCRIPTION,
        epilog=EPILOG.format(attempts=ATTEMPTS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("src", metavar="SRC", help="s3://bucket/prefix or a local folder")
    p.add_argument("dst", metavar="DST", help="a local folder or s3://bucket/prefix")
    p.add_argument(
        "--delete", action="store_true", help="delete what DST has and SRC does not (filtered)"
    )
    p.add_argument(
        "--include",
        "--exclude",
        dest="filters",
        action=FilterAction,
        metavar="GLOB",
        help="include / exclude paths matching GLOB; repeatable, the last match wins",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be copied or deleted, change nothing",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"transfers at once, each on its own kept-alive connection, 1 to {MAX_CONCURRENCY} "
        "(default %(default)s)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    s3 = p.add_argument_group("S3 connection (defaults: the standard AWS settings)")
    s3.add_argument("--endpoint-url", metavar="URL", help="S3 endpoint, e.g. https://rgw:7443")
    s3.add_argument("--region", help="region to sign requests for (default us-east-1)")
    s3.add_argument("--profile", help="profile from ~/.aws/config and ~/.aws/credentials")
    s3.add_argument("--ca-bundle", metavar="PEM", help="CA certificates to verify HTTPS with")
    s3.add_argument(
        "--no-verify-ssl", action="store_true", help="do not verify the endpoint's certificate"
    )
    s3.add_argument(
        "--addressing-style",
        choices=("path", "virtual", "auto"),
        default="path",
        help="bucket in the path (default, what Ceph RGW needs) or in the host name",
    )
    s3.add_argument(
        "--checksums",
        choices=("when_required", "when_supported"),
        help="request checksums and response validation; default when_required (or "
        "AWS_REQUEST_CHECKSUM_CALCULATION), since when_supported breaks uploads to Ceph 16 "
        "over HTTPS",
    )
    p.set_defaults(func=sync_command)
