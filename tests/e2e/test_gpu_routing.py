"""GPU routing through run.yml on the lab, where node2 declares one simulated GPU (conftest:
SIMFLEET_GPU_NODES): its slot 1 is a GPU slot, its slot 2 a CPU slot, every other slot a CPU
slot. A GPU run runs only on node2's slot 1, each job given GPU 0; a run asking for more GPUs
than any slot owns is refused before anything is queued; `glue status` names the run's queue.

The lab has no GPU, so the jobs use the process executor, which hands a job its slot's GPUs
through NVIDIA_VISIBLE_DEVICES and CUDA_VISIBLE_DEVICES (the docker executor would refuse them:
no NVIDIA runtime)."""

from __future__ import annotations

import json

import pytest

from glue.s3.client import S3Client
from tests.e2e.conftest import GPU_NODE
from tests.e2e.test_run import BUCKET, Fleet, fleet  # noqa: F401

GPU_JOBS = 4
SCENARIO = """import json, os
io = os.environ["SIMFLEET_IO"]
seen = {k: os.environ.get(k) for k in ("NVIDIA_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")}
json.dump({"value": 1, **seen}, open(os.path.join(io, "results", "result.json"), "w"))
"""
GPU_RUN = {
    "run_scenarios": f"s3://{BUCKET}/gpu",
    "run_executor": "process",
    "run_gpus": 1,
    "run_retries": 0,
    "run_reduce": ["count"],
}


@pytest.fixture(scope="module")
def gpu_run(lab, fleet: Fleet, rgw_s3: S3Client) -> str:  # noqa: F811
    if GPU_NODE not in lab.nodes:
        pytest.skip(f"the lab has no {GPU_NODE} (SIMFLEET_E2E_NODES < 2)")
    for n in range(GPU_JOBS):
        rgw_s3.put_object(Bucket=BUCKET, Key=f"gpu/g{n}.py", Body=SCENARIO.encode())
    fleet.play("e2e-gpu", "-e", json.dumps(GPU_RUN))
    return "e2e-gpu"


def test_gpu_jobs_run_only_on_the_gpu_slot_with_its_gpu(
    gpu_run: str,
    fleet: Fleet,  # noqa: F811
    rgw_s3: S3Client,
) -> None:
    summary = fleet.summary(gpu_run)
    assert summary["counts"] == {"succeeded": GPU_JOBS}
    assert {(job["host"], job["slot"]) for job in summary["jobs"]} == {(GPU_NODE, 1)}
    for n in range(GPU_JOBS):
        key = f"results/{gpu_run}/g{n}.py/results/result.json"
        seen = json.loads(rgw_s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        assert seen["NVIDIA_VISIBLE_DEVICES"] == seen["CUDA_VISIBLE_DEVICES"] == "0", seen


def test_status_names_the_runs_queue_and_the_slots_that_take_from_it(
    gpu_run: str,
    fleet: Fleet,  # noqa: F811
) -> None:
    status = fleet.glue("status", gpu_run, "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["run_queue"] == {
        "name": "simfleet:gpu1",
        "waiting": 0,
        "slots": 1,
    }
    text = fleet.glue("status", gpu_run)
    assert "run queue simfleet:gpu1: 0 waiting, 1 live slot(s)" in text.stdout


def test_a_run_no_slot_of_the_lab_could_take_is_refused_by_run_yml(
    gpu_run: str,
    lab,
    fleet: Fleet,  # noqa: F811
) -> None:
    refused = lab.run(*fleet.run_yml("e2e-gpu-two", "-e", json.dumps({**GPU_RUN, "run_gpus": 2})))
    assert refused.returncode != 0
    # Ansible's YAML output folds long lines and doubles quotes: undo both before comparing.
    output = " ".join(refused.stdout.split()).replace("''", "'")
    slots = 2 * len(lab.nodes)  # the lab's worker_slots
    assert (
        f"no slot of the fleet can run this run's jobs (2 GPU(s)): its {slots} live slot(s) "
        f"offer 1 GPU x1, CPU x{slots - 1}"
    ) in output, refused.stdout[-4000:]
    assert fleet.glue("status", "e2e-gpu-two").returncode != 0  # nothing was queued
