"""Helpers for the `glue sync` integration tests: run the CLI in-process, seed and read buckets."""

from __future__ import annotations

import contextlib
import io
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from glue.cli.main import main
from glue.lab.rgw import RgwEndpoint
from glue.s3.client import S3Client
from glue.s3.local import is_reserved


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def summary(self) -> str:
        return self.out.strip().splitlines()[-1]


def glue(*argv: str) -> Run:
    """Run `glue ARGV` in this process, capturing what it prints."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return Run(code, out.getvalue(), err.getvalue())


def aws_env(monkeypatch: pytest.MonkeyPatch, rgw: RgwEndpoint, https: bool = False) -> None:
    """Point the standard AWS settings at the test gateway, and nowhere else."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REQUEST_CHECKSUM_CALCULATION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    for name, value in rgw.env(https=https).items():
        monkeypatch.setenv(name, value)


def new_bucket(s3: S3Client) -> str:
    name = f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


def seed(s3: S3Client, bucket: str, objects: dict[str, bytes]) -> None:
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), objects.items()
            )
        )


def bucket_contents(s3: S3Client, bucket: str, prefix: str = "") -> dict[str, bytes]:
    keys = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", ())
    ]
    with ThreadPoolExecutor(16) as pool:
        bodies = pool.map(lambda k: s3.get_object(Bucket=bucket, Key=k)["Body"].read(), keys)
        return dict(zip(keys, bodies, strict=True))


def tree(root: Path) -> dict[str, bytes]:
    """Every regular file under root except glue's own: its state and lock files, and the
    temporary files of downloads in progress (temp_files() finds those)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not is_reserved(p.name)
    }


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.glue-tmp-*")]
