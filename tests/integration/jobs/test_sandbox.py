"""The job sandbox's defaults, as Docker sees a running job; what a run may relax and where
the worker's bounds stop it; named secrets; keys that cannot be passed safely."""

from __future__ import annotations

import hashlib
from pathlib import Path

import docker
import pytest

from glue.jobs.sandbox import JOBS_BRIDGE_OPTIONS
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine, containers_of, read_json

# Answers with the container's network interfaces, then waits to be inspected.
INTERFACES = """with open(os.path.join(io, "results", "result.json"), "w") as out:
    json.dump({"value": 1, "interfaces": sorted(os.listdir("/sys/class/net"))}, out)
time.sleep(int(os.environ.get("HOLD", "0")))
"""

# Reads its secret, and tries to change it.
SECRET = """path = os.path.join(os.environ["SIMFLEET_SECRETS"], "ceph-key")
data = open(path, "rb").read()
try:
    open(path, "ab").write(b"x")
    writable = True
except OSError:
    writable = False
print("read the secret", flush=True)
answer({"value": 1, "sha256": __import__("hashlib").sha256(data).hexdigest(),
        "writable": writable})
"""
SECRET_VALUE = b"ceph-secret-key-5d1c7f\n"


def run_one(engine: Engine, tmp_path: Path, name: str, body: str, *args: str) -> str:
    source = scenarios.write(tmp_path / name, {f"{name}.py": scenarios.script(body)})
    run_id = engine.run_id(name)
    code, _, err = engine.glue("run", str(source), "--run-id", run_id, "--retries", "0", *args)
    assert code == 0, err
    return run_id


def test_a_running_container_shows_the_default_profile(
    engine: Engine, tmp_path: Path, executor_image: str
) -> None:
    engine.env["HOLD"] = "60"
    engine.start_workers("--slots", "2")
    image = ["--image", executor_image, "--memory", "128m", "--env", "HOLD=60"]
    on_jobs = run_one(engine, tmp_path, "jobsnet", INTERFACES, *image, "--timeout", "90")
    no_net = run_one(engine, tmp_path, "nonet", INTERFACES, *image, "--network", "none")

    def answered(run_id: str):
        """The run's container once it runs and its scenario has answered (then it waits)."""
        for container in containers_of(run_id):
            answer = Path(container.attrs["Mounts"][0]["Source"]) / "results" / "result.json"
            if container.status == "running" and answer.exists() and answer.stat().st_size:
                return container
        return None

    container = engine.wait("the job's container to run", lambda: answered(on_jobs))
    host = container.attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
    assert host["SecurityOpt"] == ["no-new-privileges"]  # no seccomp=unconfined: the default
    assert host["Privileged"] is False
    assert host["PidsLimit"] == 256
    assert host["ReadonlyRootfs"] is True
    assert host["Init"] is True
    assert host["IpcMode"] == "private"
    assert host["PidMode"] == "" and host["UsernsMode"] == ""
    assert host["Memory"] == host["MemorySwap"] == 128 * 1024 * 1024
    assert set(host["Tmpfs"]) == {"/tmp", "/home/simfleet"}
    assert host["NetworkMode"] == "simfleet-jobs"
    assert container.attrs["Config"]["User"] == "65534:65534"
    assert [(m["Destination"], m["RW"]) for m in container.attrs["Mounts"]] == [("/io", True)]
    assert list(container.attrs["NetworkSettings"]["Networks"]) == ["simfleet-jobs"]
    network = docker.from_env().networks.get("simfleet-jobs")
    assert network.attrs["Options"] == JOBS_BRIDGE_OPTIONS
    # Killed now, inside its 60 s hold, not after the other run's container is up (on a slow
    # machine the hold once ran out first).
    container.kill()
    isolated = engine.wait("the no-network container to run", lambda: answered(no_net))
    assert isolated.attrs["HostConfig"]["NetworkMode"] == "none"
    isolated.kill()

    summaries = {run_id: engine.wait_complete(run_id) for run_id in (on_jobs, no_net)}
    assert all(s["counts"] == {"failed": 1} for s in summaries.values())  # killed above
    results = tmp_path / "results"
    assert "lo" in read_json(results / on_jobs / "jobsnet.py/results/result.json")["interfaces"]
    assert read_json(results / no_net / "nonet.py/results/result.json")["interfaces"] == ["lo"]


@pytest.mark.parametrize("executor", ["docker", "process"])
def test_a_named_secret_reaches_the_job_read_only_and_nothing_else(
    engine: Engine, executor: str, tmp_path: Path, request
) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(mode=0o700)
    (secrets_dir / "ceph-key").write_bytes(SECRET_VALUE)
    (secrets_dir / "ceph-key").chmod(0o600)
    (secrets_dir / "link").symlink_to(secrets_dir / "ceph-key")
    engine.env["GLUE_SECRETS_DIR"] = str(secrets_dir)
    engine.start_workers("--slots", "2")
    extra = ["--executor", executor]
    if executor == "docker":
        extra += ["--image", request.getfixturevalue("executor_image")]
    given = run_one(engine, tmp_path, "secret", SECRET, *extra, "--secret", "ceph-key")
    missing = run_one(engine, tmp_path, "nosecret", SECRET, *extra, "--secret", "absent")
    linked = run_one(engine, tmp_path, "linked", SECRET, *extra, "--secret", "link")

    summary = engine.wait_complete(given)
    assert summary["counts"] == {"succeeded": 1}, summary["failures"]
    run_dir = tmp_path / "results" / given
    answer = read_json(run_dir / "secret.py/results/result.json")
    assert answer["sha256"] == hashlib.sha256(SECRET_VALUE).hexdigest()
    assert answer["writable"] is False
    assert (secrets_dir / "ceph-key").read_bytes() == SECRET_VALUE
    for path in run_dir.rglob("*"):
        assert not path.is_file() or SECRET_VALUE.strip() not in path.read_bytes(), path

    absent = engine.wait_complete(missing)["failures"][0]
    assert absent["status"] == "error"
    assert "secret 'absent' is not on this worker" in absent["error"]
    link = engine.wait_complete(linked)["failures"][0]
    assert "secret 'link' is not on this worker" in link["error"]  # O_NOFOLLOW: ELOOP


def test_a_run_asking_more_than_the_worker_allows_is_refused(
    engine: Engine, tmp_path: Path, executor_image: str
) -> None:
    engine.start_workers("--slots", "2")
    image = ["--image", executor_image]
    asks = {
        "pids": ["--pids-limit", "5000"],
        "bridge": ["--network", "bridge"],
        "writable": ["--no-read-only-root"],
        "shm": ["--shm-size", "8g"],
    }
    runs = {
        name: run_one(engine, tmp_path, name, scenarios.VALUE.format(n=1), *image, *ask)
        for name, ask in asks.items()
    }
    errors = {name: engine.wait_complete(r)["failures"][0]["error"] for name, r in runs.items()}
    assert errors == {
        "pids": "Refused: pids_limit 5000 is above this worker's max_pids_limit 1024",
        "bridge": "Refused: network 'bridge' is not in this worker's allow_networks "
        "['jobs', 'none']",
        "writable": "Refused: read_only_root false is refused: this worker's "
        "allow_writable_root is false",
        "shm": "Refused: shm_size 8g is above this worker's max_shm_size 1g",
    }


def test_submit_refuses_what_its_glue_yml_does_not_allow_and_unsafe_keys(
    engine: Engine, tmp_path: Path
) -> None:
    glue_yml = tmp_path / "glue.yml"
    glue_yml.write_text("max_pids_limit: 300\nallow_networks: [jobs]\n")
    source = scenarios.write(
        tmp_path / "scenarios",
        {"ok.py": "", "-rf.py": "", "bad\nname.py": "", "a;touch x;.py": ""},
    )
    config = ["--config", str(glue_yml), "--dry-run"]
    code, out, err = engine.glue("run", str(source), "--run-id", "r", *config, "--pids-limit=400")
    assert (code, out) == (1, "")
    assert err == "glue: error: pids_limit 400 is above this worker's max_pids_limit 300\n"
    code, _, err = engine.glue("run", str(source), "--run-id", "r", *config, "--network", "none")
    assert code == 1 and "network 'none' is not in this worker's allow_networks" in err
    code, _, err = engine.glue("run", str(source), "--run-id", "r", "--env", "not a name=1")
    assert code == 1 and err.count("\n") == 1 and "env 'not a name=1'" in err

    code, out, err = engine.glue("run", str(source), "--run-id", "r", *config)
    assert code == 0
    assert out.split("\n")[:-1] == ["a;touch x;.py", "ok.py"]
    assert "glue: skipping key '-rf.py': a part of it starts with '-'" in err
    assert f"glue: skipping key {'bad' + chr(10) + 'name.py'!r}: it holds a control" in err
