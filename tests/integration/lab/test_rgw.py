"""glue.lab.rgw with bluestore on a file: what the lab's gateway keeps across a restart."""

from __future__ import annotations

import contextlib
import os

import docker
import docker.errors

from glue.lab import rgw as gateway
from glue.s3.client import make_client
from tests.support.rgw import TEST_LABEL


def test_bluestore_data_survives_a_restart_and_https_answers(tmp_path) -> None:
    client = docker.from_env()
    name = f"simfleet-test-rgw-bluestore-{os.getpid()}"
    volume = name
    keys = {"access_key": "TESTBLUESTORE", "secret_key": "bluestore-secret-key"}
    ca = tmp_path / "ca.pem"
    try:
        first = gateway.start(
            name, **keys, ca_path=ca, store="bluestore", volume=volume, labels={TEST_LABEL: "rgw"}
        )
        s3 = make_client(first.settings(https=True))
        s3.create_bucket(Bucket="kept")
        s3.put_object(Bucket="kept", Key="a/b.txt", Body=b"still here")
        assert gateway.stop(name)
        assert gateway.find(name) is None

        again = gateway.start(
            name, **keys, ca_path=ca, store="bluestore", volume=volume, labels={TEST_LABEL: "rgw"}
        )
        body = make_client(again.settings(https=True)).get_object(Bucket="kept", Key="a/b.txt")
        assert body["Body"].read() == b"still here"
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(name).remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):
            client.volumes.get(volume).remove(force=True)
