"""run.yml end to end on the 3-node lab: the sample scenarios from a real Ceph RGW, the
executor image through the lab's private registry, the workers under systemd, the report.
Then a run during which a node is killed: the run still completes with one result each.

The tests share one gateway and one lab, and run in file order: the node kill comes last,
since the lab is not whole after it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import docker
import pytest

from glue.lab import rgw as gateway
from glue.lab.rgw import RgwEndpoint
from glue.s3.client import S3Client
from tests.support import hostile

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "examples" / "scenarios"
BUCKET = "e2e-run"
BROKEN = "broken/bad-input.py"
# node1 holds the registry and, once test_queue_failover.py has run, a replica of the queue
# (node2 is its primary); node3 only a worker and a sentinel: the run must outlive a worker.
KILLED_NODE = "node3"


def scenario_keys() -> list[str]:
    return sorted(p.relative_to(SCENARIOS).as_posix() for p in SCENARIOS.rglob("*.py"))


def expected_values(tmp: Path) -> dict[str, int]:
    """Each sample scenario's value, from running it here: what the fleet must agree with."""
    procs = {}
    for key in scenario_keys():
        if key == BROKEN:
            continue
        io = tmp / key.replace("/", "_")
        io.mkdir()
        procs[key] = (
            io,
            subprocess.Popen(
                [sys.executable, SCENARIOS / key],
                env={"SIMFLEET_IO": str(io)},
                stdout=subprocess.DEVNULL,
            ),
        )
    values = {}
    for key, (io, proc) in procs.items():
        assert proc.wait(timeout=300) == 0, key
        values[key] = json.loads((io / "results/result.json").read_text())["value"]
    return values


class Fleet:
    """run.yml against the lab, with the test gateway as the fleet's S3 store."""

    def __init__(self, lab, rgw: RgwEndpoint, tmp: Path) -> None:
        self.lab = lab
        self.tmp = tmp
        settings = {
            "simfleet_s3_endpoint": gateway.container_endpoint(rgw.name),
            "simfleet_s3_region": rgw.region,
            "simfleet_s3_access_key": rgw.access_key,
            "simfleet_s3_secret_key": rgw.secret_key,
            "run_scenarios": f"s3://{BUCKET}/scenarios",
            "run_reduce": ["count", "sum:value"],
            "run_state_dir": str(tmp / "state"),
            "run_progress_seconds": 5,
        }
        self.vars_file = tmp / "fleet-vars.json"
        fd = os.open(self.vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(settings, f)

    def report_dir(self, run_id: str) -> Path:
        return self.tmp / "reports" / run_id

    def run_yml(self, run_id: str, *extra: str) -> list[str]:
        return [
            "ansible-playbook",
            "run.yml",
            "-e",
            f"@{self.vars_file}",
            "-e",
            f"run_id={run_id}",
            "-e",
            f"run_report_dir={self.report_dir(run_id)}",
            *extra,
        ]

    def play(self, run_id: str, *extra: str) -> subprocess.CompletedProcess[str]:
        done = self.lab.run(*self.run_yml(run_id, *extra), timeout=1800)
        assert done.returncode == 0, f"run.yml failed:\n{done.stdout[-6000:]}\n{done.stderr}"
        return done

    def summary(self, run_id: str) -> dict[str, Any]:
        return json.loads((self.report_dir(run_id) / "summary.json").read_text())

    def glue(self, *args: str) -> subprocess.CompletedProcess[str]:
        """glue on this machine with the client settings run.yml wrote."""
        env = {
            **self.lab.env,
            "AWS_SHARED_CREDENTIALS_FILE": str(self.tmp / "state/aws-credentials"),
        }
        return subprocess.run(
            [
                str(Path(sys.executable).parent / "glue"),
                *args,
                "--config",
                str(self.tmp / "state/glue.yml"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP counts per host: {'node1': {'ok': 12, 'changed': 0, ...}, ...}."""
    counts = {}
    for line in output.split("PLAY RECAP", 1)[1].splitlines()[1:]:
        if ":" not in line:
            continue
        host, rest = line.split(":", 1)
        counts[host.strip()] = {k: int(v) for k, v in (p.split("=") for p in rest.split())}
    return counts


def result_objects(s3: S3Client, run_id: str, bucket: str = BUCKET) -> Counter[str]:
    """How many objects each path under the run has, in the scenarios' final places (each
    attempt's own upload, under <scenario>/attempts/<n>/, is left out: the final place is a
    copy of the recorded one's)."""
    prefix = f"results/{run_id}/"
    found: Counter[str] = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            if "/attempts/" not in obj["Key"]:
                found[obj["Key"][len(prefix) :]] += 1
    return found


@pytest.fixture(scope="module")
def fleet(lab, rgw: RgwEndpoint, rgw_s3: S3Client, tmp_path_factory: pytest.TempPathFactory):
    rgw_s3.create_bucket(Bucket=BUCKET)
    for key in scenario_keys():
        rgw_s3.put_object(
            Bucket=BUCKET, Key=f"scenarios/{key}", Body=(SCENARIOS / key).read_bytes()
        )
    return Fleet(lab, rgw, tmp_path_factory.mktemp("fleet"))


@pytest.fixture(scope="module")
def demo(fleet: Fleet) -> subprocess.CompletedProcess[str]:
    return fleet.play("e2e-demo")


def test_every_scenario_has_exactly_one_result(demo, fleet: Fleet, rgw_s3: S3Client):
    objects = result_objects(rgw_s3, "e2e-demo")
    keys = scenario_keys()
    assert (
        sorted(
            {name.split("/outcome.json")[0] for name in objects if name.endswith("/outcome.json")}
        )
        == keys
    )
    for key in keys:
        assert objects[f"{key}/outcome.json"] == 1
        assert objects[f"{key}/results/result.json"] == (0 if key == BROKEN else 1), key
    summary = fleet.summary("e2e-demo")
    assert summary["complete"] and summary["total"] == summary["done"] == len(keys)
    assert summary["counts"] == {"failed": 1, "succeeded": len(keys) - 1}


def test_the_broken_scenario_is_reported_failed_with_its_log(demo, fleet: Fleet, rgw_s3: S3Client):
    (failure,) = fleet.summary("e2e-demo")["failures"]
    assert failure["scenario"] == BROKEN
    assert failure["status"] == "failed" and failure["exit_code"] == 2
    assert "mesh_size" in failure["log_tail"]
    assert "run e2e-demo" in demo.stdout and BROKEN in demo.stdout
    page = (fleet.report_dir("e2e-demo") / "report.html").read_text()
    assert BROKEN in page and "mesh_size" in page
    assert (fleet.report_dir("e2e-demo") / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_reduced_value_is_what_the_scenarios_compute(demo, fleet: Fleet, tmp_path: Path):
    values = expected_values(tmp_path)
    reduced = fleet.summary("e2e-demo")["reduced"]
    assert reduced["sum:value"] == sum(values.values())
    assert reduced["count"] == {"failed": 1, "succeeded": len(values)}
    assert f'"sum:value": {sum(values.values())}' in demo.stdout


def test_jobs_ran_on_every_node_in_the_executor_image_from_the_registry(demo, fleet: Fleet, lab):
    summary = fleet.summary("e2e-demo")
    assert sorted(summary["hosts"]) == lab.nodes
    assert {(job["host"], job["slot"]) for job in summary["jobs"]} <= {
        (node, slot) for node in lab.nodes for slot in (1, 2)
    }
    # The image the jobs ran in came from node1's registry.
    images = lab.run(
        "ansible", "node2", "-b", "-m", "ansible.builtin.command", "-a", "docker image ls"
    )
    assert "node1:6001/simfleet/executor" in images.stdout, images.stdout + images.stderr


def test_slot_accounts_have_uids_of_their_own_on_each_node(demo, lab) -> None:
    """The nodes share the host's kernel, which limits processes per uid across all of them:
    with equal uids, a fork bomb on one node's slot used up that slot's limit on another."""
    run = lab.run(
        "ansible", "workers", "-m", "ansible.builtin.command", "-a", "id -u simfleet-job1"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    uids = dict(re.findall(r"^(\S+) \| CHANGED \| rc=0 >>\n(\d+)$", run.stdout, re.M))
    assert set(uids) == set(lab.nodes), run.stdout
    assert len(set(uids.values())) == len(lab.nodes), uids


def test_running_again_with_the_same_run_id_runs_nothing(demo, fleet: Fleet):
    before = fleet.summary("e2e-demo")
    again = fleet.play("e2e-demo")
    assert "0 queued, 50 already queued or done" in again.stdout
    counts = recap(again.stdout)
    assert all(host["changed"] == 0 for host in counts.values()), counts
    after = fleet.summary("e2e-demo")
    assert after["jobs"] == before["jobs"]  # same hosts, slots, attempts and times: nothing ran


def handed_back(s3: S3Client, run_id: str) -> dict[str, bytes]:
    """Every object a run put under its results, by path relative to the run."""
    prefix = f"results/{run_id}/"
    return {
        name: s3.get_object(Bucket=BUCKET, Key=prefix + name)["Body"].read()
        for name in result_objects(s3, run_id)
    }


@pytest.mark.parametrize("executor", ["docker", "process"])
def test_hostile_scenarios_fail_on_the_lab_and_reach_no_secret(
    demo, fleet: Fleet, lab, rgw: RgwEndpoint, rgw_s3: S3Client, executor: str
):
    """The hostile set through run.yml, aimed at the nodes' real /etc/simfleet/glue.yml."""
    for key, content in hostile.scenarios().items():
        rgw_s3.put_object(Bucket=BUCKET, Key=f"hostile/{key}", Body=content)
    run_id = f"e2e-hostile-{executor}"
    settings = {
        "run_scenarios": f"s3://{BUCKET}/hostile",
        "run_executor": executor,
        "run_command": hostile.SHELL_COMMAND,
        "run_retries": 0,
        "run_timeout": 60,
    }
    fleet.play(run_id, "-e", json.dumps(settings))
    files = handed_back(rgw_s3, run_id)
    outcomes = {
        path.removesuffix("/outcome.json"): json.loads(body)
        for path, body in files.items()
        if path.endswith("/outcome.json")
    }

    def read(path: str) -> str | None:
        return files[path].decode() if path in files else None

    def names(folder: str) -> list[str]:
        return sorted(path[len(folder) + 1 :] for path in files if path.startswith(folder + "/"))

    hostile.check_run(outcomes, read, names, pids_limit=256)
    secrets = [rgw.secret_key] + [
        (lab.root / ".cache" / "lab-secrets" / name).read_text().strip()
        for name in ("redis-password", "registry-password", "registry-pull-password")
    ]
    texts = [(path, body.decode(errors="replace")) for path, body in files.items()]
    assert hostile.leaks(texts, secrets) == []
    # The worker's settings file the links pointed at is intact on every node.
    intact = lab.run(
        "ansible",
        "workers",
        "-b",
        "-m",
        "ansible.builtin.shell",
        "-a",
        "! grep -q 'must not land' /etc/simfleet/glue.yml",
    )
    assert intact.returncode == 0, intact.stdout + intact.stderr


def test_a_run_survives_a_node_killed_midway(demo, fleet: Fleet, lab, rgw_s3: S3Client):
    run_id = "e2e-kill"
    play = subprocess.Popen(
        fleet.run_yml(run_id, "-e", "run_progress_seconds=5"),
        cwd=lab.root,
        env=lab.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Kill the node while it is running jobs of this run.
        deadline = time.monotonic() + 600
        while True:
            assert play.poll() is None, f"run.yml ended before a job ran on {KILLED_NODE}"
            assert time.monotonic() < deadline, f"no job of the run started on {KILLED_NODE}"
            status = fleet.glue("status", run_id, "--json")
            hosts = json.loads(status.stdout)["hosts"] if status.returncode == 0 else {}
            if hosts.get(KILLED_NODE, {}).get("running"):
                break
            time.sleep(1)
        node = lab.container(KILLED_NODE)
        docker.from_env().containers.get(node).kill()
        output, _ = play.communicate(timeout=1500)
    finally:
        if play.poll() is None:
            play.kill()
    assert play.returncode == 0, output[-6000:]
    summary = fleet.summary(run_id)
    keys = scenario_keys()
    assert summary["complete"] and summary["done"] == len(keys)
    objects = result_objects(rgw_s3, run_id)
    assert all(objects[f"{key}/outcome.json"] == 1 for key in keys)
    assert summary["counts"] == {"failed": 1, "succeeded": len(keys) - 1}
    # What node3 was running when it died was run again on a node that lived.
    rerun = [job for job in summary["jobs"] if job["attempt"] > 1 and job["scenario"] != BROKEN]
    assert rerun and all(job["host"] != KILLED_NODE for job in rerun), rerun
