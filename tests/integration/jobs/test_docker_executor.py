"""Container limits that fail a job: out of memory, and GPUs on a host without any."""

from __future__ import annotations

from pathlib import Path

import docker

from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine, containers_of


def test_oom_and_missing_gpu_are_reported(
    engine: Engine, tmp_path: Path, executor_image: str
) -> None:
    oom = scenarios.write(tmp_path / "oom", {"hog.py": scenarios.script(scenarios.OOM)})
    gpu = scenarios.write(tmp_path / "gpu", {"v.py": scenarios.script(scenarios.VALUE, n=1)})
    # Slot 1 owns a GPU by its settings (the GPU job goes there), slot 2 is a CPU slot.
    engine.env["GLUE_GPU_DEVICES"] = "0"
    engine.start_workers("--slots", "2")
    oom_run, gpu_run = engine.run_id("oom"), engine.run_id("gpu")
    base = ["--retries", "0", "--image", executor_image]
    assert engine.glue("run", str(oom), "--run-id", oom_run, "--memory", "64m", *base)[0] == 0
    assert engine.glue("run", str(gpu), "--run-id", gpu_run, "--gpus", "1", *base)[0] == 0

    hog = engine.wait_complete(oom_run)["failures"][0]
    assert (hog["status"], hog["exit_code"]) == ("failed", 137)
    assert "allocating" in hog["log_tail"]
    # OOMKilled comes from docker inspect; engines that miss the OOM event (cgroup v1 on
    # recent kernels, like this test machine's) report it false, and the message says why.
    if hog["oom_killed"]:
        assert hog["error"] == "killed: out of memory (limit 64m)"
    else:
        assert hog["error"] == "killed by SIGKILL under a 64m memory limit: probably out of memory"

    wanted = engine.wait_complete(gpu_run)["failures"][0]
    runtimes = docker.from_env().info().get("Runtimes") or {}
    # This check is for hosts without the NVIDIA runtime; GPU hosts are verified on GPU hardware.
    assert "nvidia" not in runtimes
    assert wanted["status"] == "error"
    assert (
        "asks for 1 GPU(s) but this host's Docker engine has no NVIDIA runtime" in (wanted["error"])
    )
    assert containers_of(oom_run) == containers_of(gpu_run) == []
