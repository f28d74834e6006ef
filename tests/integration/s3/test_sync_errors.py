"""`glue sync` failures: one line naming the problem, a non-zero exit, no traceback; and an
interrupted sync that leaves no partial file behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.integration.s3.support import aws_env, glue, new_bucket, seed, temp_files, tree
from tests.support.faultproxy import Faults, fault_proxy
from tests.support.net import free_port


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing bucket", "glue: error: bucket 'no-such-bucket' does not exist at http://"),
        ("wrong secret", "glue: error: access denied by http://"),
        ("unknown key", "glue: error: access denied by http://"),
        ("unreachable", "glue: error: cannot reach the S3 endpoint http://127.0.0.1:"),
        ("bad url", "glue: error: bad S3 URL 's3://x/y': bucket name 'x' must be 3-63"),
        ("two folders", "glue: error: one of SRC and DST must be an s3://bucket/prefix URL"),
    ],
)
def test_errors_are_one_line_and_exit_non_zero(
    case, expected, rgw, rgw_s3, tmp_path, monkeypatch
) -> None:
    aws_env(monkeypatch, rgw)
    src = f"s3://{new_bucket(rgw_s3)}/p"
    if case == "missing bucket":
        src = "s3://no-such-bucket/p"
    elif case == "wrong secret":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    elif case == "unknown key":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "NOSUCHKEY")
    elif case == "unreachable":
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    elif case == "bad url":
        src = "s3://x/y"
    elif case == "two folders":
        src = str(tmp_path / "other")

    run = glue("sync", src, str(tmp_path / "dst"))

    assert run.code == 1
    assert run.err.count("\n") == 1
    assert run.err.startswith(expected), run.err
    assert run.out == ""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_a_stopped_sync_leaves_no_partial_file_and_the_next_one_finishes(
    how, rgw, rgw_s3, tmp_path, monkeypatch
) -> None:
    aws_env(monkeypatch, rgw)
    bucket = new_bucket(rgw_s3)
    objects = {f"k/{i:03d}.bin": os.urandom(64 * 1024 + i) for i in range(200)}
    seed(rgw_s3, bucket, objects)
    expected = {k.removeprefix("k/"): v for k, v in objects.items()}
    dst = tmp_path / "dst"

    # A slow proxy stretches the sync to several seconds, so the signal lands in the middle.
    with fault_proxy(rgw.endpoint_http, Faults(delay=0.05)) as proxy:
        argv = ["sync", "--concurrency", "4", "--endpoint-url", proxy.url, f"s3://{bucket}/k"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "glue", *argv, str(dst)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        # Count final names only: reading the folder's files would race with the sync's
        # temporary files being renamed away.
        while time.monotonic() < deadline and len(list(dst.glob("*.bin"))) < 20:
            time.sleep(0.02)
        proc.send_signal(how)
        _, err = proc.communicate(timeout=60)

    partial = tree(dst)
    assert 20 <= len(partial) < len(expected)
    for rel, data in partial.items():
        assert data == expected[rel], f"{rel} is incomplete"
    if how == signal.SIGINT:
        # Ctrl-C: the transfers in flight are dropped with their temp files, and what was
        # done is kept in the state file.
        assert proc.returncode == 130
        assert err == "glue: interrupted\n"
        assert temp_files(dst) == []
    else:
        assert proc.returncode == -signal.SIGKILL

    run = glue("sync", f"s3://{bucket}/k", str(dst))

    assert run.code == 0, run.err
    assert run.summary.startswith(
        f"glue sync: {len(expected) - len(partial)} transferred, {len(partial)} unchanged,"
    )
    assert tree(dst) == expected
    assert temp_files(dst) == []
