"""Start and stop the Ceph RADOS Gateway container (images/ceph) for the lab and the tests.

The lab keeps one long-lived instance whose OSD is bluestore on a file in a named volume, so
its buckets survive `make rgw-down` / `make rgw-up`; the tests start a throw-away memstore
instance per session. Either way the container publishes its ports on 127.0.0.1 only, and
start() returns once radosgw answers an authenticated request, so callers never race it.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import botocore.exceptions
import docker
import docker.errors
from docker.models.containers import Container

from glue.atomic import atomic_write
from glue.errors import GlueError
from glue.lab.images import Builder
from glue.s3.client import DEFAULT_REGION, S3Settings, make_client

LABEL = "org.simfleet.rgw"
SETTINGS_LABEL = "org.simfleet.rgw.settings"  # a digest of the image and the settings
# Enough time for the OSD to close bluestore cleanly before Docker kills it.
STOP_SECONDS = 60
HTTP_PORT = 7480  # inside the container
HTTPS_PORT = 7443
CA_IN_CONTAINER = "/var/lib/ceph/simfleet/tls/ca.pem"
STORES = ("memstore", "bluestore")


class RgwError(GlueError):
    """The gateway did not come up or could not be reached; the message says why."""


@dataclass(frozen=True)
class RgwEndpoint:
    """Where a running gateway answers and the S3 user to talk to it as."""

    name: str
    endpoint_http: str
    endpoint_https: str
    ca_path: Path
    access_key: str
    secret_key: str
    region: str = DEFAULT_REGION

    def settings(self, https: bool = False, **overrides) -> S3Settings:
        """S3 settings for this gateway; `overrides` are further S3Settings fields."""
        values = {
            "endpoint_url": self.endpoint_https if https else self.endpoint_http,
            "region": self.region,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "ca_bundle": str(self.ca_path) if https else None,
        }
        return S3Settings(**{**values, **overrides})

    def env(self, https: bool = False) -> dict[str, str]:
        """Standard AWS environment variables that point a tool (glue, aws, boto3) here."""
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_https if https else self.endpoint_http,
        }
        if https:
            env["AWS_CA_BUNDLE"] = str(self.ca_path)
        return env


def find(name: str, *, docker_client: docker.DockerClient | None = None) -> Container | None:
    """The gateway container called `name`, running or not, or None."""
    try:
        return (docker_client or docker.from_env()).containers.get(name)
    except docker.errors.NotFound:
        return None


def _host_port(container: Container, port: int) -> int:
    container.reload()
    bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp")
    if not bindings:
        raise RgwError(f"container {container.name} publishes no port for {port}/tcp")
    return int(bindings[0]["HostPort"])


def container_endpoint(name: str, *, docker_client: docker.DockerClient | None = None) -> str:
    """The gateway's HTTP endpoint as other containers (the lab's nodes) reach it.

    Its published ports listen on the host's loopback, which a container cannot reach; its
    address on Docker's network can be reached from the host and every container on it."""
    container = find(name, docker_client=docker_client)
    if container is None or container.status != "running":
        raise RgwError(f"the gateway container {name} is not running: run 'make rgw-up'")
    networks = container.attrs["NetworkSettings"]["Networks"] or {}
    address = next((n["IPAddress"] for n in networks.values() if n.get("IPAddress")), "")
    if not address:
        raise RgwError(f"the gateway container {name} has no network address")
    return f"http://{address}:{HTTP_PORT}"


def _log_tail(container: Container, lines: int = 15) -> str:
    return container.logs(tail=lines).decode(errors="replace").strip()


def _copy_ca(container: Container, dest: Path) -> None:
    """Copy the gateway's generated CA out of the container (no bind mount, no root-owned files)."""
    stream, _ = container.get_archive(CA_IN_CONTAINER)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile(tar.getmembers()[0])
        assert member is not None
        data = member.read()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(dest) as f:
        f.write(data)


def wait_until_answers(endpoint: RgwEndpoint, container: Container, timeout: float) -> None:
    """Poll with the user's keys until radosgw lists buckets; fail early if the container died."""
    client = make_client(
        endpoint.settings(max_attempts=1, connect_timeout=2, read_timeout=5, retry_mode="standard")
    )
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            client.list_buckets()
            return
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            last = exc
        container.reload()
        if container.status not in ("created", "running"):
            raise RgwError(
                f"the gateway container {container.name} exited ({container.status}):\n"
                + _log_tail(container)
            )
        time.sleep(0.2)
    raise RgwError(
        f"the gateway {container.name} did not answer within {timeout:.0f}s ({last}):\n"
        + _log_tail(container)
    )


def start(
    name: str,
    *,
    access_key: str,
    secret_key: str,
    ca_path: Path,
    http_port: int | None = None,
    https_port: int | None = None,
    store: str = "memstore",
    volume: str | None = None,
    labels: dict[str, str] | None = None,
    timeout: float = 180,
    docker_client: docker.DockerClient | None = None,
) -> RgwEndpoint:
    """Start (or reuse) the gateway container `name` and return once it answers.

    Ports are host ports on 127.0.0.1; None lets Docker pick free ones (what tests want).
    `volume` names a Docker volume for /var/lib/ceph; with bluestore it keeps the data.
    An existing container of that name is reused when it was made from the same image with
    the same settings, and replaced otherwise (its volume, and so a bluestore's data, stays).
    The CA is copied to `ca_path`.
    """
    if store not in STORES:
        raise RgwError(f"unknown store {store!r}: use one of {', '.join(STORES)}")
    client = docker_client or docker.from_env()
    image = Builder(client, log=lambda msg: None).build("ceph")
    wanted = hashlib.sha256(
        repr(
            (
                client.images.get(image).id,
                access_key,
                secret_key,
                http_port,
                https_port,
                store,
                volume,
            )
        ).encode()
    ).hexdigest()[:16]
    container = find(name, docker_client=client)
    if container is not None and container.labels.get(SETTINGS_LABEL) != wanted:
        container.stop(timeout=STOP_SECONDS)
        container.remove()
        container = None
    if container is None:
        container = client.containers.run(
            image,
            name=name,
            hostname="simfleet-rgw",
            detach=True,
            environment={
                "RGW_ACCESS_KEY": access_key,
                "RGW_SECRET_KEY": secret_key,
                "RGW_STORE": store,
                "RGW_HTTP_PORT": str(HTTP_PORT),
                "RGW_HTTPS_PORT": str(HTTPS_PORT),
            },
            ports={
                f"{HTTP_PORT}/tcp": ("127.0.0.1", http_port),
                f"{HTTPS_PORT}/tcp": ("127.0.0.1", https_port),
            },
            volumes={volume: {"bind": "/var/lib/ceph", "mode": "rw"}} if volume else None,
            labels={LABEL: name, SETTINGS_LABEL: wanted, **(labels or {})},
            stop_signal="SIGTERM",
        )
    elif container.status != "running":
        container.start()
    endpoint = RgwEndpoint(
        name=name,
        endpoint_http=f"http://127.0.0.1:{_host_port(container, HTTP_PORT)}",
        endpoint_https=f"https://127.0.0.1:{_host_port(container, HTTPS_PORT)}",
        ca_path=ca_path,
        access_key=access_key,
        secret_key=secret_key,
    )
    wait_until_answers(endpoint, container, timeout)
    _copy_ca(container, ca_path)
    return endpoint


def stop(name: str, *, docker_client: docker.DockerClient | None = None) -> bool:
    """Stop and remove container `name` (its volume stays); False when there was none."""
    client = docker_client or docker.from_env()
    container = find(name, docker_client=client)
    if container is None:
        return False
    container.stop(timeout=STOP_SECONDS)
    container.remove()
    return True
