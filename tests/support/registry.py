"""The `registry` fixture: a throw-away distribution registry (Debian's docker-registry 2.8)
with its own CA, TLS and an htpasswd login, on a free loopback port; a folder's conftest
makes it available with `from tests.support.registry import registry  # noqa: F401`.

Its image (tests/support/registry) is built from the local Debian base and rebuilt only when
its folder changes.
"""

from __future__ import annotations

import io
import os
import secrets
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest
import requests

from glue.lab.images import BASE_TAG, INPUTS_LABEL, Builder, tree_digest
from tests.support.net import free_port
from tests.support.rgw import TEST_LABEL

CONTEXT = Path(__file__).resolve().parent / "registry"
IMAGE = "simfleet-test/registry:latest"


@dataclass(frozen=True)
class Registry:
    container: str
    address: str
    ca: Path
    username: str
    password: str

    def env(self) -> dict[str, str]:
        """GLUE_REGISTRY* settings that point glue at this registry."""
        return {
            "GLUE_REGISTRY": self.address,
            "GLUE_REGISTRY_CA": str(self.ca),
            "GLUE_REGISTRY_USERNAME": self.username,
            "GLUE_REGISTRY_PASSWORD": self.password,
        }


def build_image(client: docker.DockerClient) -> None:
    Builder(client, log=lambda _: None).build_base()
    digest = tree_digest([CONTEXT], [client.images.get(BASE_TAG).id])
    try:
        if client.images.get(IMAGE).labels.get(INPUTS_LABEL) == digest:
            return
    except docker.errors.ImageNotFound:
        pass
    client.images.build(
        path=str(CONTEXT),
        tag=IMAGE,
        buildargs={"BASE_IMAGE": BASE_TAG},
        labels={INPUTS_LABEL: digest},
        rm=True,
        forcerm=True,
    )


def _read_file(container, path: str) -> bytes:
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        return archive.extractfile(archive.getmembers()[0]).read()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    client = docker.from_env()
    build_image(client)
    name = f"simfleet-test-registry-{os.getpid()}"
    port = free_port()
    password = secrets.token_urlsafe(16)
    container = client.containers.run(
        IMAGE,
        name=name,
        detach=True,
        labels={TEST_LABEL: "registry"},
        environment={"REGISTRY_USER": "tester", "REGISTRY_PASSWORD": password},
        ports={"5000/tcp": ("127.0.0.1", port)},
    )
    try:
        ca = tmp_path_factory.mktemp("registry") / "ca.crt"
        deadline = time.monotonic() + 60
        while True:
            try:
                ca.write_bytes(_read_file(container, "/etc/docker/registry/tls/ca.crt"))
                requests.get(f"https://127.0.0.1:{port}/v2/", verify=str(ca), timeout=2)
                break
            except (docker.errors.NotFound, requests.exceptions.RequestException):
                container.reload()
                if container.status == "exited" or time.monotonic() > deadline:
                    pytest.fail(
                        "the test registry did not start:\n"
                        + container.logs(tail=20).decode(errors="replace")
                    )
                time.sleep(0.3)
        yield Registry(name, f"127.0.0.1:{port}", ca, "tester", password)
    finally:
        container.remove(force=True, v=True)
