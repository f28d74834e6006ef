"""`glue sync DIR s3://…` against the real Ceph RGW, over HTTPS with default settings."""

from __future__ import annotations

import os

from tests.integration.s3.support import aws_env, bucket_contents, glue, new_bucket, seed
from tests.support.faultproxy import Faults, fault_proxy


def write(root, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_upload_over_https_with_default_settings(rgw, rgw_s3, tmp_path, monkeypatch) -> None:
    """boto3 >= 1.36 fails this against Ceph 16 unless checksums are 'when_required'."""
    aws_env(monkeypatch, rgw, https=True)
    monkeypatch.setattr("glue.s3.sync.MULTIPART_THRESHOLD", 6 * 1024 * 1024)
    bucket = new_bucket(rgw_s3)
    big = os.urandom(9 * 1024 * 1024)  # above the threshold: a two-part upload
    files = {f"s{i % 3}/scenario{i}.py": f"print({i})\n".encode() for i in range(40)}
    write(tmp_path, {**files, "data/big.bin": big})

    # What boto3 does by default, and why glue's default differs:
    boto3_default = glue(
        "sync", "--checksums", "when_supported", str(tmp_path), f"s3://{bucket}/up"
    )
    assert boto3_default.code == 1
    assert "MissingContentLength" in boto3_default.err

    run = glue("sync", str(tmp_path), f"s3://{bucket}/up")

    assert run.code == 0, run.err
    assert run.summary.startswith("glue sync: 41 transferred, 0 unchanged")
    remote = bucket_contents(rgw_s3, bucket, "up/")
    assert remote == {f"up/{k}": v for k, v in {**files, "data/big.bin": big}.items()}
    assert rgw_s3.head_object(Bucket=bucket, Key="up/data/big.bin")["ETag"].endswith('-2"')

    (tmp_path / ".glue-sync.json").unlink()  # ETags must now come from the files themselves
    again = glue("sync", str(tmp_path), f"s3://{bucket}/up")
    assert again.code == 0, again.err
    assert again.summary.startswith("glue sync: 0 transferred, 41 unchanged")


def test_same_size_local_change_and_delete_on_upload(rgw, rgw_s3, tmp_path, monkeypatch) -> None:
    aws_env(monkeypatch, rgw)
    bucket = new_bucket(rgw_s3)
    write(tmp_path, {"a.py": b"x = 1", "b.py": b"y = 2"})
    seed(rgw_s3, bucket, {"extra.py": b"old", "keep.log": b"excluded"})
    assert glue("sync", str(tmp_path), f"s3://{bucket}").code == 0
    (tmp_path / "a.py").write_bytes(b"x = 3")

    run = glue("sync", "--delete", "--exclude", "*.log", str(tmp_path), f"s3://{bucket}")

    assert run.code == 0, run.err
    assert run.summary.startswith("glue sync: 1 transferred, 1 unchanged, 1 deleted")
    assert bucket_contents(rgw_s3, bucket) == {
        "a.py": b"x = 3",
        "b.py": b"y = 2",
        "keep.log": b"excluded",
    }


def test_upload_survives_503s_and_dropped_connections(rgw, rgw_s3, tmp_path, monkeypatch) -> None:
    aws_env(monkeypatch, rgw)
    bucket = new_bucket(rgw_s3)
    files = {f"u/{i:03d}.txt": f"upload {i}\n".encode() * (i % 50 + 1) for i in range(200)}
    write(tmp_path, files)

    with fault_proxy(rgw.endpoint_http, Faults(error_503=0.1, drop=0.05, cut=0.05)) as proxy:
        run = glue("sync", "--endpoint-url", proxy.url, str(tmp_path), f"s3://{bucket}")

    assert run.code == 0, run.err
    assert proxy.injected >= 10
    assert bucket_contents(rgw_s3, bucket) == files
