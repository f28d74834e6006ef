"""Result places in S3 (the real Ceph RGW): what a job's fetch, upload and placing of its
attempt cost in requests, since on a fleet each request is a round trip to the gateway between
two jobs of a slot, and that placing an attempt replaces exactly what it should."""

from __future__ import annotations

import collections
import secrets
from collections.abc import Iterator

import pytest

from glue.jobs import locations
from glue.jobs.locations import S3Prefix
from glue.lab.rgw import RgwEndpoint
from glue.s3.client import S3Client

NAMES = ("results", "logs", "outcome.json")


@pytest.fixture
def prefix(rgw: RgwEndpoint, rgw_s3: S3Client, monkeypatch) -> Iterator[S3Prefix]:
    bucket = f"glue-places-{secrets.token_hex(4)}"
    rgw_s3.create_bucket(Bucket=bucket)
    for name, value in rgw.env().items():
        monkeypatch.setenv(name, value)
    yield S3Prefix(f"s3://{bucket}/results", rgw.endpoint_http)


def count_requests(location: S3Prefix) -> collections.Counter:
    """The S3 operations the location's client sends from now on, by name."""
    sent: collections.Counter = collections.Counter()

    def note(model, **_) -> None:
        sent[model.name] += 1

    location.client.meta.events.register("before-call.s3", note)
    return sent


def keys(rgw_s3: S3Client, location: S3Prefix) -> dict[str, bytes]:
    bucket, folder = location.url.removeprefix("s3://").split("/", 1)
    listed = rgw_s3.list_objects_v2(Bucket=bucket, Prefix=folder + "/").get("Contents", [])
    return {
        o["Key"].removeprefix(folder + "/"): rgw_s3.get_object(Bucket=bucket, Key=o["Key"])[
            "Body"
        ].read()
        for o in listed
    }


def test_a_first_placing_lists_once_and_copies_within_the_bucket(prefix, rgw_s3) -> None:
    prefix.write_bytes("r/s.py/attempts/1/results/result.json", b'{"value": 1}')
    prefix.write_bytes("r/s.py/attempts/1/logs/output.log", b"ran")
    prefix.write_bytes("r/s.py/attempts/1/outcome.json", b"{}")
    sent = count_requests(prefix)

    prefix.place("r/s.py/attempts/1", "r/s.py", NAMES)

    assert sent == {"ListObjectsV2": 1, "CopyObject": 3}
    placed = keys(rgw_s3, prefix)
    assert placed["r/s.py/results/result.json"] == b'{"value": 1}'
    assert placed["r/s.py/logs/output.log"] == b"ran"
    assert placed["r/s.py/outcome.json"] == b"{}"


def test_placing_another_attempt_leaves_nothing_of_the_earlier_one(prefix, rgw_s3) -> None:
    for n, files in {1: ["results/a.csv", "results/deep/b.csv", "logs/output.log"], 2: []}.items():
        for rel in files:
            prefix.write_bytes(f"r/s.py/attempts/{n}/{rel}", f"{n}".encode())
        prefix.write_bytes(f"r/s.py/attempts/{n}/outcome.json", f"{n}".encode())
    prefix.write_bytes("r/s.py/attempts/2/logs/output.log", b"2")
    prefix.write_bytes("r/s.py.other/outcome.json", b"a neighbour")  # same start, not inside
    prefix.place("r/s.py/attempts/1", "r/s.py", NAMES)
    sent = count_requests(prefix)

    prefix.place("r/s.py/attempts/2", "r/s.py", NAMES)

    assert sent == {"ListObjectsV2": 1, "DeleteObjects": 1, "CopyObject": 2}
    placed = {k: v for k, v in keys(rgw_s3, prefix).items() if "/attempts/" not in k}
    assert placed == {
        "r/s.py/logs/output.log": b"2",
        "r/s.py/outcome.json": b"2",
        "r/s.py.other/outcome.json": b"a neighbour",
    }


def test_a_source_outside_the_place_is_listed_too(prefix, rgw_s3) -> None:
    prefix.write_bytes("elsewhere/outcome.json", b"moved")
    prefix.write_bytes("r/s.py/outcome.json", b"old")
    prefix.write_bytes("r/s.py/logs/output.log", b"old")
    prefix.place("elsewhere", "r/s.py", NAMES)
    placed = keys(rgw_s3, prefix)
    assert placed["r/s.py/outcome.json"] == b"moved"
    assert "r/s.py/logs/output.log" not in placed


def test_a_small_file_comes_in_one_request_a_large_one_in_parts(prefix, tmp_path) -> None:
    prefix.write_bytes("scen/small.py", b"print(1)\n")
    big = secrets.token_bytes(locations.SINGLE_REQUEST_MAX + 5)
    prefix.write_bytes("scen/big.bin", big)
    sent = count_requests(prefix)
    prefix.fetch("scen/small.py", tmp_path / "small.py")
    assert sent == {"GetObject": 1}
    assert (tmp_path / "small.py").read_bytes() == b"print(1)\n"

    sent.clear()
    prefix.fetch("scen/big.bin", tmp_path / "big.bin")
    assert (tmp_path / "big.bin").read_bytes() == big
    assert sent["GetObject"] >= 3  # the one dropped on seeing the size, then ranged parts


def test_uploads_are_one_request_per_small_file(prefix, rgw_s3, tmp_path) -> None:
    big = b"b" * (locations.SINGLE_REQUEST_MAX + 5)
    (tmp_path / "out/deep").mkdir(parents=True)
    (tmp_path / "out/a.txt").write_bytes(b"a")
    (tmp_path / "out/deep/b.bin").write_bytes(big)
    sent = count_requests(prefix)

    assert prefix.upload_dir(tmp_path / "out", "r/s.py/results") == []

    assert sent["PutObject"] == 1  # a.txt; b.bin in parts, through boto3's transfer
    assert sent["CreateMultipartUpload"] == 1
    assert keys(rgw_s3, prefix) == {
        "r/s.py/results/a.txt": b"a",
        "r/s.py/results/deep/b.bin": big,
    }
