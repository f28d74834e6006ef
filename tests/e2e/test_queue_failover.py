"""The queue's host lost for good in the middle of a run, on the 3-node lab: node1 (Redis's
primary, a sentinel, the registry, a worker) is killed with `docker kill` while run.yml waits
on the 49 good demo scenarios, and stays dead until run.yml is over. The sentinels on node2 and
node3 promote node2's replica; the workers and run.yml's waiting find it through them; the run
ends with one outcome per scenario and the demo's reduced result: the jobs node1 was running
ran again elsewhere and succeeded (the broken scenario is left out, as a job lost on its last
attempt would rightly end as lost). Each job first sleeps PAUSE seconds, so that the run
lasts long enough to kill node1 while it runs jobs and many are left.

The time from the kill to the first job recorded after it is printed and written to
failover.json in the test's temporary folder: docs/queue-failover.md quotes it.

This file runs before test_rebuilt_hosts.py and test_run.py (file-name order): node1 is started
again at the end and the test waits until it is back as a replica, with its services up, so
the tests after it find a whole lab (whose primary is node2 from then on)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import docker
import pytest
import redis
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel

from glue import config
from glue.jobs import connection
from glue.jobs.runstate import RunState
from glue.lab.rgw import RgwEndpoint
from glue.s3.client import S3Client
from tests.e2e.test_run import (
    BROKEN,
    SCENARIOS,
    Fleet,
    expected_values,
    result_objects,
    scenario_keys,
)

BUCKET = "e2e-failover"
RUN_ID = "e2e-failover"
PRIMARY, REPLICA = "node1", "node2"
NODE1_SERVICES = (
    "redis-server.service",
    "redis-sentinel.service",
    "docker-registry.service",
    "nginx.service",
    "simfleet-worker.service",
)
# Short, so that polling during the outage notices the new primary within about a second.
POLL_TIMEOUT = 1.0
PAUSE = 3  # seconds each job sleeps before its scenario
# Jobs left to run at the kill, at least.
LEFT_AT_KILL = 10


def keys() -> list[str]:
    return [key for key in scenario_keys() if key != BROKEN]


def address(lab, node: str) -> str:
    """A node's address on the Docker bridge: where the lab's services reach it."""
    container = docker.from_env().containers.get(lab.container(node))
    return container.attrs["NetworkSettings"]["IPAddress"]


class Queue:
    """The run's queue as the control machine sees it through the sentinels, with no retries:
    each question fails fast while there is no primary, so the test can time the outage."""

    def __init__(self, glue_yml: Path) -> None:
        where = connection.target(config.load(config_path=str(glue_yml), environ={}))
        assert where.sentinels, "run.yml wrote no sentinels into glue.yml: no replicated queue"
        password = parse_url(where.url)["password"]
        # One try per question and per sentinel: node1's sentinel is gone with it.
        options = {
            "socket_timeout": POLL_TIMEOUT,
            "socket_connect_timeout": POLL_TIMEOUT,
            "retry": Retry(NoBackoff(), 0),
        }
        self.sentinel = Sentinel(
            list(where.sentinels),
            sentinel_kwargs={"password": password, **options},
            password=password,
            **options,
        )
        self.master = where.master

    def primary(self) -> str | None:
        try:
            return self.sentinel.discover_master(self.master)[0]
        except redis.exceptions.RedisError:
            return None

    def outcomes(self) -> int | None:
        """How many scenarios of the run have an outcome, or None while that cannot be read."""
        try:
            return RunState(self.sentinel.master_for(self.master), RUN_ID).progress()[0]
        except (redis.exceptions.RedisError, OSError):
            return None

    def replicas(self) -> dict[str, str]:
        """Replica address -> replication state, from the primary."""
        try:
            info = self.sentinel.master_for(self.master).info("replication")
        except (redis.exceptions.RedisError, OSError):
            return {}
        return {
            info[f"slave{n}"]["ip"]: info[f"slave{n}"]["state"]
            for n in range(info.get("connected_slaves", 0))
        }


def wait_for(what: str, check, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f} s"
        time.sleep(0.25)


def services_active(lab, node: str) -> bool:
    run = lab.run(
        "ansible", node, "-b", "-m", "ansible.builtin.command",
        "-a", "systemctl is-active " + " ".join(NODE1_SERVICES),
    )  # fmt: skip
    return run.returncode == 0


def bring_back(lab, node: str, was_at: str) -> None:
    """Start the killed node's container again. Docker gives a restarted container the lowest
    free bridge address, so if another container took the node's address meanwhile, every
    setting that names it is stale: the node is then rebuilt the documented way."""
    docker.from_env().containers.get(lab.container(node)).start()
    if address(lab, node) == was_at:
        return
    for name, step in (
        ("vagrant destroy", lambda: lab.run("vagrant", "destroy", "-f", node)),
        ("vagrant up", lambda: lab.up("--no-provision")),
        ("ansible-playbook site.yml", lambda: lab.run("ansible-playbook", "site.yml")),
    ):
        done = step()
        assert done.returncode == 0, f"{name}:\n{done.stdout[-4000:]}\n{done.stderr}"


@pytest.fixture(scope="module")
def fleet(lab, rgw: RgwEndpoint, rgw_s3: S3Client, tmp_path_factory: pytest.TempPathFactory):
    rgw_s3.create_bucket(Bucket=BUCKET)
    for key in keys():
        rgw_s3.put_object(
            Bucket=BUCKET, Key=f"scenarios/{key}", Body=(SCENARIOS / key).read_bytes()
        )
    return Fleet(lab, rgw, tmp_path_factory.mktemp("failover"))


def test_run_yml_rides_out_the_queue_primary_killed_for_good(
    lab, fleet: Fleet, rgw_s3: S3Client, tmp_path: Path
) -> None:
    primary_at, replica_at = address(lab, PRIMARY), address(lab, REPLICA)
    log = tmp_path / "run.yml.log"
    with log.open("w") as out:
        play = subprocess.Popen(
            fleet.run_yml(
                RUN_ID,
                "-e",
                f"run_scenarios=s3://{BUCKET}/scenarios",
                "-e",
                json.dumps({"run_command": f"sh -c 'sleep {PAUSE} && exec python3 {{scenario}}'"}),
            ),
            cwd=lab.root,
            env=lab.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    killed = False
    try:
        # Kill node1 once node2 and node3 have finished a job (so they hold the executor
        # image: the registry dies with node1), node1 is running some and many are left.
        glue_yml = fleet.tmp / "state" / "glue.yml"
        deadline = time.monotonic() + 900
        hosts: dict = {}
        while True:
            assert play.poll() is None, (
                f"run.yml ended before the kill; jobs per host last seen: {hosts}\n"
                f"{log.read_text()[-6000:]}"
            )
            assert time.monotonic() < deadline, "the run did not get going on every node"
            status = fleet.glue("status", RUN_ID, "--json") if glue_yml.is_file() else None
            if status and status.returncode == 0:
                hosts = json.loads(status.stdout)["hosts"]
            others_ran = all(hosts.get(n, {}).get("succeeded") for n in lab.nodes[1:])
            done = sum(n for h in hosts.values() for s, n in h.items() if s != "running")
            left = len(keys()) - done
            if others_ran and hosts.get(PRIMARY, {}).get("running") and left >= LEFT_AT_KILL:
                break
            time.sleep(0.5)
        queue = Queue(glue_yml)
        assert queue.primary() == primary_at
        assert queue.replicas() == {replica_at: "online"}
        before = queue.outcomes()
        assert before is not None and before < len(keys()), before

        docker.from_env().containers.get(lab.container(PRIMARY)).kill()
        killed = True
        at_kill = time.monotonic()
        promoted = wait_for(
            "a new primary", lambda: (p := queue.primary()) != primary_at and p, 120
        )
        promoted_after = time.monotonic() - at_kill
        wait_for("a job recorded after the kill", lambda: (queue.outcomes() or 0) > before, 300)
        first_job_after = time.monotonic() - at_kill
        measured = {
            "promoted_after_s": round(promoted_after, 1),
            "first_job_after_s": round(first_job_after, 1),
            "outcomes_at_kill": before,
        }
        (tmp_path / "failover.json").write_text(json.dumps(measured) + "\n")
        print(f"\nqueue failover on the lab: {json.dumps(measured)} ({tmp_path}/failover.json)")

        assert promoted == replica_at
        assert play.wait(timeout=1500) == 0, log.read_text()[-6000:]
        # What run.yml's waiting said of the outage (and of scenarios it requeued), for the doc.
        said = [line for line in log.read_text().splitlines() if "glue: " in line]
        print("\n".join(dict.fromkeys(line.strip() for line in said)))
    finally:
        if play.poll() is None:
            play.kill()
        if killed:
            bring_back(lab, PRIMARY, primary_at)

    # Not restarted during the run: node1 was down from the kill until run.yml ended.
    summary = fleet.summary(RUN_ID)
    assert summary["complete"] and summary["total"] == summary["done"] == len(keys())
    assert summary["counts"] == {"succeeded": len(keys())}, summary["failures"]
    objects = result_objects(rgw_s3, RUN_ID, bucket=BUCKET)
    assert all(objects[f"{key}/outcome.json"] == 1 for key in keys()), objects
    # What node1 was running at the kill ran again on another node.
    again = [j for j in summary["jobs"] if j["attempt"] > 1]
    assert again and all(j["host"] != PRIMARY for j in again), again
    (tmp_path / "expected").mkdir()
    values = expected_values(tmp_path / "expected")
    assert summary["reduced"]["sum:value"] == sum(values.values())
    assert summary["reduced"]["count"] == {"succeeded": len(values)}


def test_the_killed_primary_is_back_as_a_replica_with_its_services(lab, fleet: Fleet) -> None:
    """What the tests after this file need: node1 whole again, following node2."""
    queue = Queue(fleet.tmp / "state" / "glue.yml")
    replica_at = address(lab, REPLICA)
    node1_at = address(lab, PRIMARY)
    assert queue.primary() == replica_at
    wait_for("node1 in sync as a replica", lambda: queue.replicas() == {node1_at: "online"}, 180)
    wait_for("node1's services", lambda: services_active(lab, PRIMARY), 180)
    status = fleet.glue("status", RUN_ID)
    assert status.returncode == 0, status.stderr
    assert f"queue: primary {replica_at}:6379, replicas: {node1_at}:6379 in sync" in status.stdout
