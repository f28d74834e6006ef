"""The hostile scenarios of tests/hostile, all in one run, for both executors: each attack fails
the way it should, the outcome says what was refused, and every other result arrives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from glue.jobs import routing
from glue.jobs.sandbox import Profile
from tests.integration.jobs.conftest import Engine, containers_of
from tests.integration.jobs.test_run import alive
from tests.support import hostile

FAKE_SECRET = "redis://:FAKE-REDIS-PASSWORD-c4f1@10.0.0.5:6379/0"
# What a worker's environment holds and a job must not see.
WORKER_SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "FAKE-S3-SECRET-9b2e",
    "REDIS_PASSWORD": "FAKE-REDIS-PASSWORD-c4f1",
    "REGISTRY_PASSWORD": "FAKE-REGISTRY-PASSWORD-71aa",
}


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
    for key, content in hostile.scenarios().items():
        (source / key).write_bytes(content)
    results = tmp_path / "results"
    image = []
    if executor == "docker":
        image = ["--image", request.getfixturevalue("executor_image")]
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
        hostile.SHELL_COMMAND,
        "--env",
        f"HOSTILE_TARGET={worker_config}",
    )
    assert code == 0, err
    summary = engine.wait_complete(run_id, timeout=180)
    outcomes = {o["scenario"]: o for o in engine.state(run_id).outcomes().values()}
    run_dir = results / run_id

    def read(path: str) -> str | None:
        file = run_dir / path
        return file.read_text() if file.is_file() else None

    def names(folder: str) -> list[str]:
        return sorted(p.name for p in (run_dir / folder).iterdir())

    hostile.check_run(outcomes, read, names, Profile().pids_limit)
    assert summary["counts"] == {"succeeded": 11, "failed": 1}, summary["failures"]

    # What only this machine can show: the files the attacks aimed at are untouched, and the
    # children that outlived their job are dead.
    assert not Path("/simfleet-hostile-write-root").exists()
    assert not Path("/usr/simfleet-hostile-write-root").exists()
    assert worker_config.read_text() == f"redis_url: {FAKE_SECRET}\n"
    if executor == "process":
        setsid = json.loads(read("setsid_child.py/results/result.json") or "{}")
        assert not any(alive(pid) for pid in setsid["pids"])
    assert containers_of(run_id) == []
    assert not list(run_dir.rglob("pwned"))

    # No secret of the worker anywhere in what the run handed back.
    handed_back = [
        (str(path), path.read_text(errors="replace"))
        for path in run_dir.rglob("*")
        if path.is_file()
    ]
    assert hostile.leaks(handed_back, [FAKE_SECRET, *WORKER_SECRETS.values()]) == []


@pytest.mark.parametrize("executor", ["docker", "process"])
def test_a_gpu_request_on_a_fleet_without_gpus_is_refused_in_one_line(
    engine: Engine, executor: str, tmp_path: Path
) -> None:
    source = tmp_path / "gpu"
    source.mkdir()
    shutil.copyfile(hostile.HOSTILE / "gpu.py", source / "gpu.py")
    engine.start_workers("--slots", "1")
    engine.wait(
        "the slot to register", lambda: routing.fleet_offers(engine.conn, engine.env["GLUE_QUEUE"])
    )
    run_id = engine.run_id(f"gpu-{executor}")
    args = ["run", str(source), "--run-id", run_id, "--executor", executor]
    code, _, err = engine.glue(*args, "--gpus", "1", "--retries", "0")
    assert code != 0
    assert err.strip().splitlines() == [
        "glue: error: no slot of the fleet can run this run's jobs (1 GPU(s)): its 1 live "
        "slot(s) offer CPU x1"
    ]
    assert not engine.conn.exists(engine.state(run_id).key)
    assert not (tmp_path / "results" / run_id).exists()
