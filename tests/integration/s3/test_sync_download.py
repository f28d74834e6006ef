"""`glue sync s3://… DIR` against the real Ceph RGW: correctness, incrementality, safety."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.s3.support import (
    aws_env,
    bucket_contents,
    glue,
    new_bucket,
    seed,
    tree,
)
from tests.support.faultproxy import Faults, fault_proxy

PREFIXES = 10
MANY = 1_537  # more than one listing page of 1,000 keys


def payload(i: int) -> bytes:
    """1 to 4 KB of content unique to i."""
    return (f"object {i}\n".encode() * 400)[: 1024 + (i * 37) % 3072]


@pytest.fixture(scope="module")
def many(rgw_s3) -> tuple[str, dict[str, bytes]]:
    """A bucket with MANY keys under PREFIXES prefixes (and one key outside the prefix)."""
    bucket = new_bucket(rgw_s3)
    objects = {f"set/p{i % PREFIXES}/obj-{i:05d}.py": payload(i) for i in range(MANY)}
    seed(rgw_s3, bucket, {**objects, "elsewhere.txt": b"not under set/"})
    return bucket, {k.removeprefix("set/"): v for k, v in objects.items()}


def get_requests(proxy) -> list[str]:
    """Object GETs the proxy saw (listings are GETs of the bucket with a query)."""
    return [path for method, path in proxy.requests if method == "GET" and "list-type" not in path]


def test_more_than_one_page_over_https_then_a_no_op_costs_listings_only(
    rgw, many, tmp_path, monkeypatch
) -> None:
    bucket, objects = many
    aws_env(monkeypatch, rgw, https=True)
    dst = tmp_path / "dst"

    first = glue("sync", f"s3://{bucket}/set", str(dst))

    assert first.code == 0, first.err
    assert first.summary.startswith(f"glue sync: {MANY} transferred, 0 unchanged")
    assert tree(dst) == objects
    assert "\r" not in first.err  # no progress bar when stderr is not a terminal

    aws_env(monkeypatch, rgw)
    with fault_proxy(rgw.endpoint_http, Faults()) as proxy:
        again = glue("sync", "--endpoint-url", proxy.url, f"s3://{bucket}/set/", str(dst))

    assert again.code == 0, again.err
    assert again.summary.startswith(f"glue sync: 0 transferred, {MANY} unchanged")
    assert get_requests(proxy) == []
    assert len(proxy.requests) == 2  # two listing pages, nothing else


def test_an_object_changed_with_the_same_size_is_downloaded_again(
    rgw, rgw_s3, tmp_path, monkeypatch
) -> None:
    aws_env(monkeypatch, rgw)
    bucket = new_bucket(rgw_s3)
    seed(rgw_s3, bucket, {"conf/a.txt": b"version 1", "conf/b.txt": b"unchanged"})
    assert glue("sync", f"s3://{bucket}/conf", str(tmp_path)).code == 0
    # Keep the same mtime too, so only the ETag can tell the difference.
    stat = (tmp_path / "a.txt").stat()
    seed(rgw_s3, bucket, {"conf/a.txt": b"version 2"})

    run = glue("sync", f"s3://{bucket}/conf", str(tmp_path))

    assert run.code == 0, run.err
    assert run.summary.startswith("glue sync: 1 transferred, 1 unchanged")
    assert (tmp_path / "a.txt").read_bytes() == b"version 2"
    assert (tmp_path / "a.txt").stat().st_size == stat.st_size


def test_a_multipart_object_is_recognised_without_state(rgw, rgw_s3, tmp_path, monkeypatch) -> None:
    aws_env(monkeypatch, rgw)
    bucket = new_bucket(rgw_s3)
    part = 5 * 1024 * 1024  # RGW's minimum part size
    data = os.urandom(part) + os.urandom(1000)
    upload = rgw_s3.create_multipart_upload(Bucket=bucket, Key="big.bin")
    parts = []
    for n, chunk in enumerate((data[:part], data[part:]), start=1):
        resp = rgw_s3.upload_part(
            Bucket=bucket, Key="big.bin", UploadId=upload["UploadId"], PartNumber=n, Body=chunk
        )
        parts.append({"ETag": resp["ETag"], "PartNumber": n})
    rgw_s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts},
    )
    assert rgw_s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-2"')

    first = glue("sync", f"s3://{bucket}", str(tmp_path))
    assert first.code == 0, first.err
    assert (tmp_path / "big.bin").read_bytes() == data
    (tmp_path / ".glue-sync.json").unlink()
    with fault_proxy(rgw.endpoint_http, Faults()) as proxy:
        again = glue("sync", "--endpoint-url", proxy.url, f"s3://{bucket}", str(tmp_path))

    assert again.code == 0, again.err
    assert again.summary.startswith("glue sync: 0 transferred, 1 unchanged")
    assert get_requests(proxy) == []


def test_delete_removes_extra_files_but_not_excluded_ones(
    rgw, rgw_s3, tmp_path, monkeypatch
) -> None:
    aws_env(monkeypatch, rgw)
    bucket = new_bucket(rgw_s3)
    seed(rgw_s3, bucket, {"keep.txt": b"k", "sub/keep2.txt": b"k2"})
    (tmp_path / "sub").mkdir()
    (tmp_path / "extra.txt").write_bytes(b"x")
    (tmp_path / "sub" / "extra2.txt").write_bytes(b"x2")
    (tmp_path / "notes.log").write_bytes(b"mine")
    src = f"s3://{bucket}"

    without = glue("sync", src, str(tmp_path))
    assert without.code == 0
    assert (tmp_path / "extra.txt").exists()

    dry = glue("sync", "--delete", "--dry-run", "--exclude", "*.log", src, str(tmp_path))
    assert dry.code == 0
    assert f"(dry run) delete: {tmp_path / 'extra.txt'}" in dry.out
    assert "notes.log" not in dry.out
    assert (tmp_path / "extra.txt").exists()

    run = glue("sync", "--delete", "--exclude", "*.log", src, str(tmp_path))
    assert run.code == 0, run.err
    assert run.summary.startswith("glue sync: 0 transferred, 2 unchanged, 2 deleted")
    assert tree(tmp_path) == {"keep.txt": b"k", "sub/keep2.txt": b"k2", "notes.log": b"mine"}


def test_include_and_exclude_apply_in_order(rgw, rgw_s3, tmp_path, monkeypatch) -> None:
    aws_env(monkeypatch, rgw)
    bucket = new_bucket(rgw_s3)
    names = ["x/1.py", "x/2.txt", "y/3.py", "tmp/4.py", "5.py"]
    seed(rgw_s3, bucket, {n: n.encode() for n in names})

    run = glue(
        "sync",
        "--exclude",
        "*",
        "--include",
        "*.py",
        "--exclude",
        "tmp/*",
        f"s3://{bucket}",
        str(tmp_path),
    )

    assert run.code == 0, run.err
    assert sorted(tree(tmp_path)) == ["5.py", "x/1.py", "y/3.py"]


def test_unsafe_keys_are_refused_by_name_and_nothing_lands_outside(
    rgw, rgw_s3, tmp_path, monkeypatch
) -> None:
    aws_env(monkeypatch, rgw)
    bucket = new_bucket(rgw_s3)
    unsafe = ["../escape1", "a/../../escape2", "/abs/escape3", "back\\slash", "./dot", "a//b"]
    seed(rgw_s3, bucket, {**{k: b"evil" for k in unsafe}, "ok/file.txt": b"fine"})
    assert set(bucket_contents(rgw_s3, bucket)) == {*unsafe, "ok/file.txt"}
    dst = tmp_path / "inner" / "dst"

    run = glue("sync", f"s3://{bucket}", str(dst))

    assert run.code == 1
    for key in unsafe:
        assert f"glue sync: refused: s3://{bucket}/{key}: " in run.err
    assert run.summary.startswith("glue sync: 1 transferred, 0 unchanged, 0 deleted, 6 refused")
    assert tree(tmp_path) == {"inner/dst/ok/file.txt": b"fine"}
    assert not Path("/abs/escape3").exists()


def test_dir_markers_are_skipped_and_clashes_reported(rgw, rgw_s3, tmp_path, monkeypatch) -> None:
    aws_env(monkeypatch, rgw)
    bucket = new_bucket(rgw_s3)
    seed(
        rgw_s3,
        bucket,
        {
            "empty/": b"",
            "folder/": b"",
            "folder/f.txt": b"f",
            "clash": b"file",
            "clash/inner.txt": b"inner",
            "local-dir": b"a file on S3",
        },
    )
    (tmp_path / "local-dir").mkdir()
    (tmp_path / "local-dir" / "mine.txt").write_bytes(b"mine")

    run = glue("sync", f"s3://{bucket}", str(tmp_path))

    assert run.code == 1
    assert f"glue sync: failed: s3://{bucket}/clash: key clashes with a folder" in run.err
    assert f"glue sync: failed: s3://{bucket}/local-dir: clashes with a local folder" in run.err
    assert run.summary.startswith("glue sync: 2 transferred, 0 unchanged, 0 deleted, 0 refused, 2")
    assert tree(tmp_path) == {
        "folder/f.txt": b"f",
        "clash/inner.txt": b"inner",
        "local-dir/mine.txt": b"mine",
    }
    assert not (tmp_path / "empty").exists()


def test_503s_and_dropped_connections_still_end_with_every_object_correct(
    rgw, rgw_s3, tmp_path, monkeypatch
) -> None:
    aws_env(monkeypatch, rgw)
    bucket = new_bucket(rgw_s3)
    objects = {f"d/{i:03d}.bin": payload(i) for i in range(300)}
    seed(rgw_s3, bucket, objects)
    faults = Faults(error_503=0.1, drop=0.05, cut=0.05)

    with fault_proxy(rgw.endpoint_http, faults) as proxy:
        run = glue("sync", "--endpoint-url", proxy.url, f"s3://{bucket}/d", str(tmp_path))

    assert run.code == 0, run.err
    assert proxy.injected >= 20  # the faults really happened
    assert tree(tmp_path) == {k.removeprefix("d/"): v for k, v in objects.items()}
    assert list(tmp_path.rglob("*.glue-tmp-*")) == []


def test_through_an_http_proxy_every_request_goes_through_it(
    rgw, rgw_s3, tmp_path, monkeypatch
) -> None:
    aws_env(monkeypatch, rgw)
    bucket = new_bucket(rgw_s3)
    objects = {f"{i}.txt": payload(i) for i in range(20)}
    seed(rgw_s3, bucket, objects)
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)

    with fault_proxy(rgw.endpoint_http, Faults()) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        run = glue("sync", f"s3://{bucket}", str(tmp_path))

    assert run.code == 0, run.err
    assert tree(tmp_path) == objects
    assert len(get_requests(proxy)) == len(objects)
