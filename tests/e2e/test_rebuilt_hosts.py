"""Rebuilt hosts on the 3-node lab: a smaller node count never orphans a node, a run after the
queue host (node1: Redis and the registry) was destroyed and brought back alone needs no hand
step, and job slots that run without being registered are restarted by run.yml's slot check.

Each test leaves the lab whole (node1 is rebuilt, not left destroyed), so the session's other
e2e tests, run after this file, find it as `vagrant up` left it, though with a fresh node1.
Removing the whole lab with `make lab-destroy` is the session fixture's teardown
(tests/e2e/conftest.py), which checks that no container of the lab is left."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from glue.lab.rgw import RgwEndpoint
from glue.s3.client import S3Client
from tests.e2e.test_run import SCENARIOS, Fleet

BUCKET = "e2e-rebuild"
BROKEN = "broken/bad-input.py"
# Quick sample scenarios (no slow/ ones) and the failing one.
KEYS = sorted(
    p.relative_to(SCENARIOS).as_posix()
    for folder in ("collatz", "factorial", "broken")
    for p in (SCENARIOS / folder).glob("*.py")
)
# On a worker host: tell RQ that this host's workers are gone, while they go on running.
UNREGISTER = """
import socket
from rq import Worker
from glue import config
from glue.jobs import connection
s = config.load(config_path="/etc/simfleet/glue.yml", environ={})
q = connection.queue(connection.for_settings(s), s.queue)
for w in Worker.all(queue=q, serializer=q.serializer):
    if w.hostname == socket.gethostname():
        w.register_death()
"""


def expected_sum(tmp: Path) -> int:
    """The sum of the values the quick scenarios compute, from running them here."""
    total = 0
    for key in KEYS:
        if key == BROKEN:
            continue
        io = tmp / key.replace("/", "_")
        io.mkdir()
        subprocess.run(
            [sys.executable, SCENARIOS / key],
            env={"SIMFLEET_IO": str(io)},
            stdout=subprocess.DEVNULL,
            check=True,
            timeout=120,
        )
        total += json.loads((io / "results/result.json").read_text())["value"]
    return total


@pytest.fixture(scope="module")
def fleet(lab, rgw: RgwEndpoint, rgw_s3: S3Client, tmp_path_factory: pytest.TempPathFactory):
    rgw_s3.create_bucket(Bucket=BUCKET)
    for key in KEYS:
        rgw_s3.put_object(
            Bucket=BUCKET, Key=f"scenarios/{key}", Body=(SCENARIOS / key).read_bytes()
        )
    return Fleet(lab, rgw, tmp_path_factory.mktemp("rebuild"))


@pytest.fixture(scope="module")
def first_run(fleet: Fleet) -> None:
    """A run on the lab as it came up: the workers are installed and have run jobs."""
    play(fleet, "rebuild-first")


def play(fleet: Fleet, run_id: str) -> subprocess.CompletedProcess[str]:
    done = fleet.lab.run(
        *fleet.run_yml(run_id, "-e", f"run_scenarios=s3://{BUCKET}/scenarios"), timeout=1800
    )
    assert done.returncode == 0, f"run.yml failed:\n{done.stdout[-6000:]}\n{done.stderr}"
    return done


def check_summary(fleet: Fleet, run_id: str, tmp: Path) -> None:
    summary = fleet.summary(run_id)
    assert summary["complete"] and summary["done"] == len(KEYS)
    assert summary["counts"] == {"failed": 1, "succeeded": len(KEYS) - 1}
    assert summary["reduced"]["sum:value"] == expected_sum(tmp)


def running(lab) -> dict[str, bool]:
    containers = docker.from_env().containers
    return {node: containers.get(lab.container(node)).status == "running" for node in lab.nodes}


def test_a_smaller_count_names_the_nodes_left_out_and_destroys_nothing(lab) -> None:
    last = lab.nodes[-1]
    fewer = len(lab.nodes) - 1
    run = lab.run("vagrant", "destroy", "-f", env={"SIMFLEET_NODES": str(fewer)})
    assert run.returncode != 0
    (line,) = run.stderr.strip().splitlines()
    assert f"this lab has {last} beyond SIMFLEET_NODES={fewer}" in line, line
    assert running(lab) == dict.fromkeys(lab.nodes, True)


@pytest.mark.usefixtures("first_run")
def test_a_run_after_the_queue_host_alone_was_rebuilt_needs_no_hand_step(
    lab, fleet: Fleet, tmp_path: Path
) -> None:
    kept = {node: lab.container(node) for node in lab.nodes[1:]}

    # What a user does: node1 destroyed and brought back (`make lab`), the rest left running.
    destroy = lab.run("vagrant", "destroy", "-f", "node1")
    assert destroy.returncode == 0, destroy.stderr
    up = lab.up("--no-provision")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr
    site = lab.run("ansible-playbook", "site.yml")
    assert site.returncode == 0, site.stdout[-6000:]
    assert {node: lab.container(node) for node in lab.nodes[1:]} == kept

    after = play(fleet, "rebuild-after")
    check_summary(fleet, "rebuild-after", tmp_path)
    # The other nodes' workers registered again by themselves: the slot check's safety net
    # (a restart) was not needed.
    assert "restarting it" not in after.stdout, after.stdout[-6000:]


@pytest.mark.usefixtures("first_run")
def test_slots_that_run_but_are_not_registered_are_restarted(
    lab, fleet: Fleet, tmp_path: Path
) -> None:
    node = lab.nodes[-1]
    # Freeze the node's slots (the pool process goes on) and make Redis forget them: slots that
    # run, are not registered, and cannot register again by themselves.
    freeze = lab.run(
        "ansible", node, "-b", "-m", "ansible.builtin.shell", "-a",
        "systemctl kill --kill-whom=all --signal=SIGSTOP simfleet-worker.service"
        " && systemctl kill --kill-whom=main --signal=SIGCONT simfleet-worker.service",
    )  # fmt: skip
    assert freeze.returncode == 0, freeze.stdout + freeze.stderr
    forget = lab.run(
        "ansible", node, "-b", "-m", "ansible.builtin.command", "-a",
        f"/opt/simfleet/glue/bin/python -c '{UNREGISTER}'",
    )  # fmt: skip
    assert forget.returncode == 0, forget.stdout + forget.stderr

    done = play(fleet, "rebuild-unregistered")
    assert f"simfleet-worker.service on {node} runs, but only 0 of 2 job slots" in done.stdout
    assert done.stdout.count("restarting it") == 1, done.stdout[-6000:]  # that node only
    check_summary(fleet, "rebuild-unregistered", tmp_path)
