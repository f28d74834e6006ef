"""The lab's persistent S3 store: one gateway container whose data lives in a named volume.

`up` creates the S3 keys once and keeps them in .cache/rgw/ (gitignored), so every later `up`
and every tool that reads that folder (bench/sync.py, the demo, a user's shell through
`. .cache/rgw/env`) talks to the same store with the same keys.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

import botocore.exceptions
import docker
import docker.errors

from glue.atomic import atomic_write
from glue.lab import rgw
from glue.lab.images import REPO_ROOT
from glue.lab.rgw import RgwEndpoint, RgwError
from glue.s3.client import make_client

NAME = "simfleet-rgw"
VOLUME = "simfleet-rgw-data"
STATE_DIR = Path(os.environ.get("SIMFLEET_RGW_DIR", REPO_ROOT / ".cache" / "rgw"))
DEFAULT_HTTP_PORT = 7480
DEFAULT_HTTPS_PORT = 7443


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, without a moment where it is world-readable."""
    with atomic_write(path, mode=0o600) as f:
        f.write(text.encode())


def _keys(state_dir: Path) -> tuple[str, str]:
    """The lab's S3 keys: the ones already on disk, or new random ones."""
    creds = state_dir / "credentials.json"
    if creds.is_file():
        data = json.loads(creds.read_text())
        return data["access_key"], data["secret_key"]
    return "LAB" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)


def up(
    http_port: int = DEFAULT_HTTP_PORT,
    https_port: int = DEFAULT_HTTPS_PORT,
    state_dir: Path = STATE_DIR,
) -> RgwEndpoint:
    """Start the lab gateway (bluestore on a file in VOLUME) and write its credentials."""
    state_dir.mkdir(parents=True, exist_ok=True)
    access_key, secret_key = _keys(state_dir)
    endpoint = rgw.start(
        NAME,
        access_key=access_key,
        secret_key=secret_key,
        ca_path=state_dir / "ca.pem",
        http_port=http_port,
        https_port=https_port,
        store="bluestore",
        volume=VOLUME,
    )
    record = {
        "endpoint_http": endpoint.endpoint_http,
        "endpoint_https": endpoint.endpoint_https,
        "ca_path": str(endpoint.ca_path),
        "access_key": access_key,
        "secret_key": secret_key,
        "region": endpoint.region,
    }
    _write_private(state_dir / "credentials.json", json.dumps(record, indent=2) + "\n")
    exports = "".join(f"export {k}={v}\n" for k, v in endpoint.env().items())
    _write_private(state_dir / "env", exports)
    return endpoint


def load(state_dir: Path = STATE_DIR) -> RgwEndpoint:
    """The lab gateway as `up` recorded it; raises when `make rgw-up` has not run."""
    creds = state_dir / "credentials.json"
    if not creds.is_file():
        raise RgwError(f"no lab S3 store recorded in {state_dir}: run 'make rgw-up' first")
    data = json.loads(creds.read_text())
    return RgwEndpoint(name=NAME, **{**data, "ca_path": Path(data["ca_path"])})


def ensure_bucket(name: str, state_dir: Path = STATE_DIR) -> bool:
    """Create bucket `name` in the lab gateway unless it is there; True when it was created."""
    client = make_client(load(state_dir).settings())
    # RGW answers a repeated CreateBucket with success, so ask first.
    with contextlib.suppress(botocore.exceptions.ClientError):
        client.head_bucket(Bucket=name)
        return False
    try:
        client.create_bucket(Bucket=name)
    except botocore.exceptions.ClientError as exc:
        raise RgwError(f"cannot create bucket {name!r}: {exc}") from None
    return True


def down(purge: bool = False) -> str:
    """Stop the lab gateway; with purge also delete its data volume. Returns what was done."""
    stopped = rgw.stop(NAME)
    if not purge:
        return "stopped (data kept)" if stopped else "not running"
    with contextlib.suppress(docker.errors.NotFound):
        docker.from_env().volumes.get(VOLUME).remove()
    (STATE_DIR / "credentials.json").unlink(missing_ok=True)
    return "stopped and its data deleted"
