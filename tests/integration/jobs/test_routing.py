"""Routing on a real Redis with real workers: a "GPU" worker (GPUs declared in its settings,
process jobs given their slot's GPUs through NVIDIA_VISIBLE_DEVICES) beside a CPU worker.
GPU jobs land only on GPU slots, concurrent GPU jobs never share a GPU, CPU jobs stay off GPU
slots, and a run no live slot could take is refused before anything is queued. Then what a
real Docker engine records of a GPU job's container, and the one check that needs a GPU."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import docker
import pytest

from glue.config import Settings
from glue.jobs import docker_executor, routing, slot
from glue.jobs.executor import ExecSpec, IoDir
from glue.jobs.runstate import RunState
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine, read_json

GPU_DEVICES = "0,1"
GPU_JOBS = 6

# Says which GPUs it was given, and when it held them.
HOLD_GPU = """start = time.time()
time.sleep(2)
answer({"value": 1, "visible": os.environ.get("NVIDIA_VISIBLE_DEVICES"),
        "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "end": time.time()})
"""

# nvidia-smi, put into the container by the NVIDIA runtime, lists the GPUs the job sees.
NVIDIA_SMI = """import subprocess
listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True)
answer({"value": 1, "gpus": listing.stdout.splitlines()})
"""


def offer_of(engine: Engine, worker: str) -> routing.Offer:
    """What the live worker that ran a job offers, from its RQ worker hash."""
    raw = engine.conn.hget(f"rq:worker:{worker}", routing.OFFER_FIELD)
    assert raw, f"worker {worker} is not registered with an offer"
    return routing.Offer.from_json(raw)


def outcomes(results: Path) -> dict[str, dict]:
    return {p.parent.name: read_json(p) for p in results.glob("*/outcome.json")}


def start_gpu_workers(engine: Engine, *args: str, devices: str = GPU_DEVICES):
    engine.env["GLUE_GPU_DEVICES"] = devices
    try:
        return engine.start_workers(*args)
    finally:
        del engine.env["GLUE_GPU_DEVICES"]


def registered_slots(engine: Engine, count: int) -> None:
    base = engine.env["GLUE_QUEUE"]
    engine.wait(
        f"{count} slots to register",
        lambda: len(routing.fleet_offers(engine.conn, base)) == count,
    )


def test_gpu_jobs_land_only_on_gpu_slots_each_with_a_gpu_of_its_own(
    engine: Engine, tmp_path: Path, executor_image: str
) -> None:
    gpu_source = scenarios.write(
        tmp_path / "gpu",
        {f"g{n}.py": scenarios.script(HOLD_GPU) for n in range(GPU_JOBS)},
    )
    cpu_source = scenarios.write(
        tmp_path / "cpu", {f"c{n}.py": scenarios.script(scenarios.VALUE, n=n) for n in range(6)}
    )
    start_gpu_workers(engine, "--slots", "2")
    engine.start_workers("--slots", "2")
    registered_slots(engine, 4)
    gpu_run, cpu_run = engine.run_id("gpu"), engine.run_id("cpu")
    code, _, err = engine.glue(
        "run", str(gpu_source), "--run-id", gpu_run, "--gpus", "1", "--executor", "process"
    )
    assert code == 0, err
    # CPU jobs in containers: the slot accounts of process jobs are the GPU slots' alone.
    code, _, err = engine.glue(
        "run", str(cpu_source), "--run-id", cpu_run, "--image", executor_image
    )
    assert code == 0, err

    assert engine.wait_complete(gpu_run)["counts"] == {"succeeded": GPU_JOBS}
    assert engine.wait_complete(cpu_run)["counts"] == {"succeeded": 6}
    gpu_jobs = outcomes(tmp_path / "results" / gpu_run)
    assert len(gpu_jobs) == GPU_JOBS
    held = []
    for name, outcome in gpu_jobs.items():
        offer = offer_of(engine, outcome["worker"])
        result = read_json(tmp_path / "results" / gpu_run / name / "results" / "result.json")
        # On a GPU slot, with exactly that slot's GPU.
        assert offer.gpus == (result["visible"],) == (result["cuda"],), (name, offer, result)
        held.append((result["start"], result["end"], result["visible"]))
    assert {gpu for _, _, gpu in held} == {"0", "1"}
    overlapping = [
        (a, b) for i, a in enumerate(held) for b in held[i + 1 :] if a[0] < b[1] and b[0] < a[1]
    ]
    assert overlapping, "no two GPU jobs ran at once: the test proves nothing"
    assert all(a[2] != b[2] for a, b in overlapping), overlapping
    for outcome in outcomes(tmp_path / "results" / cpu_run).values():
        assert offer_of(engine, outcome["worker"]).gpus == ()

    # glue status names the run's queue and the slots that take from it.
    code, out, _ = engine.glue("status", gpu_run, "--json")
    assert code == 0
    assert json.loads(out)["run_queue"] == {
        "name": f"{engine.env['GLUE_QUEUE']}:gpu1",
        "waiting": 0,
        "slots": 2,
    }


def test_a_run_no_live_slot_could_take_is_refused_before_anything_is_queued(
    engine: Engine, tmp_path: Path
) -> None:
    source = scenarios.write(tmp_path / "s", {"v.py": scenarios.script(scenarios.VALUE, n=1)})
    start_gpu_workers(engine, "--slots", "1", devices="0")
    engine.start_workers("--slots", "1")
    registered_slots(engine, 2)
    for flags, need in [
        (["--gpus", "2"], "(2 GPU(s))"),
        (["--require", "bigmem"], "(no GPU, labels bigmem)"),
    ]:
        run_id = engine.run_id("refused" + "".join(flags).replace("-", ""))
        code, _, err = engine.glue("run", str(source), "--run-id", run_id, *flags)
        assert code != 0
        assert err.strip().splitlines() == [
            f"glue: error: no slot of the fleet can run this run's jobs {need}: its 2 live slot(s) "
            "offer 1 GPU x1, CPU x1"
        ]
        assert not engine.conn.exists(RunState(engine.conn, run_id).key)


def test_the_container_asks_docker_for_the_slots_gpus_by_id(
    tmp_path: Path, executor_image: str, monkeypatch
) -> None:
    """Created, never started (that needs a GPU): the device request Docker stored."""
    settings = Settings(gpu_devices=["0", "1", "2", "3"], gpus_per_slot=2)
    monkeypatch.setattr(slot, "_current", slot.Slot("h", 2, "w", settings))
    spec = ExecSpec(
        command=["true"],
        scenario_file="s.py",
        timeout=10,
        name=f"glue-test-gpu-{tmp_path.name}",
        host="h",
        image=executor_image,
        gpus=2,
    )
    io = IoDir.create(tmp_path / "job")
    client = docker.from_env()
    container = docker_executor._create(client, spec, io)
    try:
        (request,) = container.attrs["HostConfig"]["DeviceRequests"]
        assert request["DeviceIDs"] == ["2", "3"]
        assert not request.get("Count")
        assert request["Capabilities"] == [["gpu"]]
        env = container.attrs["Config"]["Env"]
        assert not any(e.startswith("NVIDIA_VISIBLE_DEVICES=") for e in env)
    finally:
        container.remove(force=True)
    cpu = docker_executor._create(client, ExecSpec(**{**spec.__dict__, "gpus": 0}), io)
    try:
        assert not cpu.attrs["HostConfig"].get("DeviceRequests")
        assert "NVIDIA_VISIBLE_DEVICES=void" in cpu.attrs["Config"]["Env"]
    finally:
        cpu.remove(force=True)


def host_gpus() -> list[str]:
    """This host's GPUs as `nvidia-smi -L` lists them; empty without a GPU and its driver."""
    if not shutil.which("nvidia-smi"):
        return []
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return [line for line in listing.stdout.splitlines() if line.startswith("GPU ")]


def test_nvidia_smi_in_a_job_container_shows_exactly_its_slots_gpu(
    engine: Engine, tmp_path: Path, executor_image: str
) -> None:
    gpus = host_gpus()
    if not gpus or "nvidia" not in (docker.from_env().info().get("Runtimes") or {}):
        pytest.skip("needs an NVIDIA GPU with its driver and Docker's NVIDIA runtime: none here")
    source = scenarios.write(
        tmp_path / "s", {f"smi{n}.py": scenarios.script(NVIDIA_SMI) for n in range(len(gpus))}
    )
    devices = ",".join(str(n) for n in range(len(gpus)))
    start_gpu_workers(engine, "--slots", str(len(gpus)), devices=devices)
    registered_slots(engine, len(gpus))
    run_id = engine.run_id("smi")
    args = ["run", str(source), "--run-id", run_id, "--gpus", "1", "--image", executor_image]
    code, _, err = engine.glue(*args, "--env", "NVIDIA_DRIVER_CAPABILITIES=utility")
    assert code == 0, err
    assert engine.wait_complete(run_id)["counts"] == {"succeeded": len(gpus)}
    for name, outcome in outcomes(tmp_path / "results" / run_id).items():
        seen = read_json(tmp_path / "results" / run_id / name / "results" / "result.json")["gpus"]
        (index,) = offer_of(engine, outcome["worker"]).gpus
        # Inside the container its one GPU is GPU 0; its UUID is the host's GPU of that index.
        assert len(seen) == 1, seen
        assert seen[0].split("(UUID:")[1] == gpus[int(index)].split("(UUID:")[1]


def test_gpu_slots_take_cpu_jobs_only_from_runs_that_allow_it(
    engine: Engine, tmp_path: Path
) -> None:
    source = scenarios.write(
        tmp_path / "s", {f"c{n}.py": scenarios.script(HOLD_GPU) for n in range(2)}
    )
    start_gpu_workers(engine, "--slots", "1", devices="0")
    registered_slots(engine, 1)
    args = ["run", str(source), "--executor", "process"]
    code, _, err = engine.glue(*args, "--run-id", engine.run_id("cpu-refused"))
    assert code != 0 and "GPU slots take CPU jobs only with --gpu-slots-take-cpu" in err
    run_id = engine.run_id("cpu-allowed")
    code, _, err = engine.glue(*args, "--run-id", run_id, "--gpu-slots-take-cpu")
    assert code == 0, err
    assert engine.wait_complete(run_id)["counts"] == {"succeeded": 2}
    for name in ("c0.py", "c1.py"):
        result = read_json(tmp_path / "results" / run_id / name / "results" / "result.json")
        # On the GPU slot, yet a CPU job: no GPU for it.
        assert (result["visible"], result["cuda"]) == ("void", "")
