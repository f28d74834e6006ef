"""The hostile scenarios of tests/hostile, all in one run, for both executors: each attack fails
the way it should, the outcome says what was refused, and every other result arrives."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from glue.jobs.sandbox import Profile
from tests.integration.jobs.conftest import REPO, Engine, containers_of, read_json
from tests.integration.jobs.test_run import TIMESTAMPED, alive

HOSTILE = REPO / "tests" / "hostile"
SHELL_KEY = "a;cd${IFS}results;touch${IFS}pwned;.py"
FAKE_SECRET = "redis://:FAKE-REDIS-PASSWORD-c4f1@10.0.0.5:6379/0"
# What a worker's environment holds and a job must not see.
WORKER_SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "FAKE-S3-SECRET-9b2e",
    "REDIS_PASSWORD": "FAKE-REDIS-PASSWORD-c4f1",
    "REGISTRY_PASSWORD": "FAKE-REGISTRY-PASSWORD-71aa",
}
# A scenario whose defence is refusing the attack answers blocked; it must be true.
REFUSED = [
    "mount.py",
    "raw_socket.py",
    "write_root.py",
    "fork_bomb.py",
    "read_config.py",
    "docker_socket.py",
]


def seconds(outcome: dict) -> float:
    start, end = (datetime.fromisoformat(outcome[k].rstrip("Z")) for k in ("start", "end"))
    return (end - start).total_seconds()


@pytest.fixture
def worker_config(tmp_path: Path) -> Path:
    """A stand-in for /etc/simfleet/glue.yml: root's alone, in a folder of mode 0700."""
    folder = tmp_path / "etc-simfleet"
    folder.mkdir(mode=0o700)
    path = folder / "glue.yml"
    path.write_text(f"redis_url: {FAKE_SECRET}\n")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("executor", ["docker", "process"])
def test_hostile_scenarios_fail_as_intended_and_the_rest_arrives(
    engine: Engine, executor: str, tmp_path: Path, worker_config: Path, request
) -> None:
    source = tmp_path / "hostile"
    source.mkdir()
    for path in HOSTILE.glob("*.py"):
        if path.name != "gpu.py":
            name = SHELL_KEY if path.name == "shell_key.py" else path.name
            shutil.copyfile(path, source / name)
    results = tmp_path / "results"
    if executor == "docker":
        request.getfixturevalue("executor_image")
        image = ["--image", request.getfixturevalue("executor_image")]
    else:
        image = []
    engine.env.update(WORKER_SECRETS)
    engine.start_workers("--slots", "2")
    run_id = engine.run_id(f"hostile-{executor}")
    code, _, err = engine.glue(
        "run",
        str(source),
        "--run-id",
        run_id,
        "--executor",
        executor,
        *image,
        "--results",
        str(results),
        "--retries",
        "0",
        "--timeout",
        "60",
        # A shell template: the key must reach it quoted.
        "--command",
        "sh -c 'exec python3 {scenario}'",
        "--env",
        f"HOSTILE_TARGET={worker_config}",
    )
    assert code == 0, err
    summary = engine.wait_complete(run_id, timeout=180)
    outcomes = {o["scenario"]: o for o in engine.state(run_id).outcomes().values()}
    run_dir = results / run_id

    def answer(scenario: str) -> dict:
        return read_json(run_dir / scenario / "results" / "result.json")

    # Only result.json behind a link fails; every other scenario's result arrived.
    assert summary["counts"] == {"succeeded": 11, "failed": 1}, summary["failures"]

    for scenario in REFUSED:
        assert outcomes[scenario]["status"] == "succeeded", outcomes[scenario]
        assert answer(scenario)["blocked"] is True, (scenario, answer(scenario))
    assert answer("fork_bomb.py")["forks"] < Profile().pids_limit
    assert answer("read_config.py")["leaked_variables"] == []
    assert not Path("/simfleet-hostile-write-root").exists()
    assert not Path("/usr/simfleet-hostile-write-root").exists()

    # Links and a FIFO in results/ and logs/: skipped, and named in the outcome's notes.
    assert outcomes["results_symlink.py"]["notes"] == [
        "results/leak.txt: a symbolic link, not uploaded",
        "results/leakdir: a symbolic link, not uploaded",
    ]
    assert sorted(p.name for p in (run_dir / "results_symlink.py" / "results").iterdir()) == [
        "result.json"
    ]
    assert outcomes["logs_symlink.py"]["notes"] == [
        "logs/leak.txt: a symbolic link, not uploaded",
        "logs/output.log: a symbolic link, not uploaded",
    ]
    assert outcomes["fifo.py"]["notes"] == ["results/pipe: not a regular file, not uploaded"]
    # The worker's own log was uploaded as logs/output.log; the target is untouched.
    log = (run_dir / "logs_symlink.py" / "logs" / "output.log").read_text().splitlines()
    assert log and all(TIMESTAMPED.match(line) for line in log)
    assert "this line must not land in the target" in log[-1]
    assert worker_config.read_text() == f"redis_url: {FAKE_SECRET}\n"

    linked = outcomes["result_json_symlink.py"]
    assert linked["status"] == "failed"
    assert linked["error"] == (
        "results/result.json cannot be read: results/result.json is a symbolic link"
    )

    # Children outliving the job: it ended at once, and they are gone.
    setsid = outcomes["setsid_child.py"]
    assert setsid["status"] == "succeeded" and seconds(setsid) < 20
    if executor == "process":
        assert not any(alive(pid) for pid in answer("setsid_child.py")["pids"])
    assert containers_of(run_id) == []

    # The key with shell code ran as itself, and its code did not run.
    assert outcomes[SHELL_KEY]["status"] == "succeeded"
    assert answer(SHELL_KEY)["value"] == 1
    assert not list(run_dir.rglob("pwned"))

    # No secret of the worker anywhere in what the run handed back.
    for path in run_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            for secret in [FAKE_SECRET, *WORKER_SECRETS.values()]:
                assert secret not in text, path


@pytest.mark.parametrize("executor", ["docker", "process"])
def test_a_gpu_request_on_a_host_without_gpus_is_refused_in_one_line(
    engine: Engine, executor: str, tmp_path: Path, request
) -> None:
    if Path("/dev/nvidiactl").exists():
        pytest.skip("this host has an NVIDIA GPU; the refusal is for hosts without one")
    source = tmp_path / "gpu"
    source.mkdir()
    shutil.copyfile(HOSTILE / "gpu.py", source / "gpu.py")
    image = []
    if executor == "docker":
        image = ["--image", request.getfixturevalue("executor_image")]
    engine.start_workers("--slots", "1")
    run_id = engine.run_id(f"gpu-{executor}")
    args = ["run", str(source), "--run-id", run_id, "--executor", executor, *image]
    assert engine.glue(*args, "--gpus", "1", "--retries", "0")[0] == 0
    failure = engine.wait_complete(run_id)["failures"][0]
    assert failure["status"] == "error"
    assert "\n" not in failure["error"]
    missing = "Docker engine has no NVIDIA runtime" if executor == "docker" else "no NVIDIA GPU"
    assert re.search(r"asks for 1 GPU\(s\) but this host.*" + missing, failure["error"])
    assert not (tmp_path / "results" / run_id / "gpu.py" / "results").exists()
