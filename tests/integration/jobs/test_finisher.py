"""A slot's finisher uploads a job's results while the slot starts its next job (issue 16),
and a slot killed while it uploads still gives the job back.

The results go to the real Ceph RGW through a loopback proxy that can hold each request: a
slow or stalled gateway, which the RGW itself cannot be made into on demand."""

from __future__ import annotations

import json
import os
import secrets
import signal
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from rq import Queue, Worker

from glue.lab.rgw import RgwEndpoint
from glue.s3.client import S3Client
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine, Workers
from tests.support.faultproxy import FaultProxy, Faults, fault_proxy

QUICK = """answer({{"value": {n}}})
"""

# The first attempt waits for the test's go before its command ends.
HELD = """if job["attempt"] == 1:
    open(os.path.join({gate!r}, "started"), "w").close()
    while not os.path.exists(os.path.join({gate!r}, "go")):
        time.sleep(0.05)
answer({{"value": job["attempt"]}})
"""


@pytest.fixture
def proxied(engine: Engine, rgw: RgwEndpoint, rgw_s3: S3Client, monkeypatch):
    """A bucket of its own, reached by the workers and glue through a FaultProxy."""
    bucket = f"glue-finisher-{secrets.token_hex(4)}"
    rgw_s3.create_bucket(Bucket=bucket)
    with fault_proxy(rgw.endpoint_http, Faults()) as proxy:
        for name, value in {**rgw.env(), "AWS_ENDPOINT_URL": proxy.url}.items():
            monkeypatch.setenv(name, value)
            engine.env[name] = value
        yield bucket, proxy


def outcome(rgw_s3: S3Client, bucket: str, run_id: str, scenario: str) -> dict:
    key = f"results/{run_id}/{scenario}/outcome.json"
    return json.loads(rgw_s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_the_next_command_starts_while_the_last_job_uploads(
    engine: Engine, proxied: tuple[str, FaultProxy], rgw_s3: S3Client, tmp_path: Path
) -> None:
    bucket, proxy = proxied
    names = ["s0.py", "s1.py"]
    source = scenarios.write(
        tmp_path / "scenarios", {name: scenarios.script(QUICK, n=n) for n, name in enumerate(names)}
    )
    run_id = engine.run_id("finisher")
    engine.start_workers("--slots", "1")
    # Every S3 request of a job's upload and placing now takes a second or more.
    proxy.faults.delay = 1.0
    code, _, err = engine.glue(
        "run", str(source), "--run-id", run_id, "--executor", "process", "--order", "listing",
        "--results", f"s3://{bucket}/results",
    )  # fmt: skip
    assert code == 0, err
    assert engine.wait_complete(run_id)["counts"] == {"succeeded": 2}
    proxy.faults.delay = 0.0
    first, second = (outcome(rgw_s3, bucket, run_id, name) for name in names)
    # Finishing the first job takes several held requests (3 PUTs, a LIST, copies): a slot
    # that waited for it would leave a gap of seconds between the two commands.
    gap = (when(second["start"]) - when(first["end"])).total_seconds()
    assert gap < 1.0, (first, second)


@pytest.fixture
def held_upload(
    engine: Engine, proxied: tuple[str, FaultProxy], tmp_path: Path, shared_tmp: Path
) -> Callable[..., Workers]:
    """Start one slot on held.py: its first attempt's command ends once every request to the
    gateway takes `delay` seconds, and the start returns when that attempt's upload has
    begun."""
    bucket, proxy = proxied
    gate = shared_tmp / "gate"

    def start(run_id: str, delay: float, *run_args: str) -> Workers:
        gate.mkdir(mode=0o777)
        gate.chmod(0o1777)
        source = scenarios.write(
            tmp_path / "scenarios", {"held.py": scenarios.script(HELD, gate=str(gate))}
        )
        workers = engine.start_workers("--slots", "1")
        code, _, err = engine.glue(
            "run", str(source), "--run-id", run_id, "--executor", "process",
            "--results", f"s3://{bucket}/results", *run_args,
        )  # fmt: skip
        assert code == 0, err
        engine.wait("the first attempt to start", (gate / "started").exists)
        proxy.faults.delay = delay
        (gate / "go").touch()
        engine.wait(
            "the first attempt's upload to reach the gateway",
            lambda: any(m == "PUT" and "/attempts/1/" in p for m, p in proxy.requests),
        )
        return workers

    return start


def test_a_slot_killed_while_its_finisher_uploads_gives_the_job_back(
    engine: Engine,
    proxied: tuple[str, FaultProxy],
    rgw_s3: S3Client,
    held_upload: Callable[..., Workers],
) -> None:
    bucket, proxy = proxied
    run_id = engine.run_id("finisher-kill")
    held_upload(run_id, 30.0, "--retries", "1")
    queue = Queue(engine.env["GLUE_QUEUE"], connection=engine.conn)
    (job_id,) = queue.started_job_registry.get_job_ids()
    assert engine.state(run_id).progress() == (0, 1)  # not folded yet
    (worker,) = Worker.all(queue=queue)
    os.kill(worker.pid, signal.SIGKILL)
    proxy.faults.delay = 0.0

    summary = engine.wait_complete(run_id)
    assert summary["counts"] == {"succeeded": 1}
    placed = outcome(rgw_s3, bucket, run_id, "held.py")
    assert placed["job_id"] == job_id
    assert placed["attempt"] == 2
    assert placed["status"] == "succeeded"


def test_a_worker_told_to_stop_finishes_the_upload_it_started(
    engine: Engine,
    proxied: tuple[str, FaultProxy],
    rgw_s3: S3Client,
    held_upload: Callable[..., Workers],
) -> None:
    bucket, _ = proxied
    run_id = engine.run_id("finisher-stop")
    workers = held_upload(run_id, 1.0)
    assert workers.stop(signal.SIGTERM, timeout=60) == 0, workers.tail()
    # The stop waited for the upload and the fold: nothing is left for another worker.
    assert engine.state(run_id).complete()
    placed = outcome(rgw_s3, bucket, run_id, "held.py")
    assert (placed["attempt"], placed["status"]) == (1, "succeeded")
