"""The `rgw` fixture: one real Ceph RADOS Gateway (images/ceph) for the whole test session.

Memstore keeps it fast (about 3 s to answer); Docker picks free loopback ports for HTTP and
HTTPS. A folder's conftest makes the fixtures available with
`from tests.support.rgw import rgw, rgw_s3  # noqa: F401`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import docker
import docker.errors
import pytest

from glue.lab import rgw as gateway
from glue.lab.rgw import RgwEndpoint
from glue.s3.client import S3Client, make_client

TEST_LABEL = "org.simfleet.test"


@pytest.fixture(scope="session")
def rgw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RgwEndpoint]:
    """A running gateway with a fresh S3 user; the container is removed after the session."""
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"the Ceph RGW tests need a running Docker engine (make setup): {exc}")
    name = f"simfleet-test-rgw-{os.getpid()}"
    try:
        endpoint = gateway.start(
            name,
            access_key="TEST" + secrets.token_hex(8).upper(),
            secret_key=secrets.token_urlsafe(30),
            ca_path=tmp_path_factory.mktemp("rgw") / "ca.pem",
            store="memstore",
            labels={TEST_LABEL: "rgw"},
            docker_client=client,
        )
        yield endpoint
    finally:
        container = gateway.find(name, docker_client=client)
        if container is not None:
            container.remove(force=True)


@pytest.fixture(scope="session")
def rgw_s3(rgw: RgwEndpoint) -> S3Client:
    """A plain boto3 client on the gateway (HTTP) for seeding and checking buckets."""
    return make_client(rgw.settings(max_pool_connections=16))
