"""A node that cannot pull the run's image pauses its slots, and the run still ends with every
scenario succeeded on the other nodes (issue 14's acceptance, through run.yml on the lab).

node3's registry login (the pull account in the worker account's Docker config) is moved
aside, and run.yml is told not to log node3 in again (it applies the worker role); the run
uses a tag pushed just now, which no node has yet: node1 and node2 pull it, node3 is refused.
The login is put back at the end, and the test waits for node3's pauses to end, so the tests
after this one find the lab whole."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from glue.lab.rgw import RgwEndpoint
from glue.s3.client import S3Client
from tests.e2e.test_run import BROKEN, SCENARIOS, Fleet, scenario_keys

BUCKET = "e2e-pause"
NODE = "node3"
LOGIN = "/var/lib/simfleet/.docker/config.json"
ASIDE = f"{LOGIN}.e2e-paused-slots"
LOCAL_IMAGE = "simfleet/executor:latest"


def keys() -> list[str]:
    return [key for key in scenario_keys() if key != BROKEN]


@pytest.fixture(scope="module")
def fleet(lab, rgw: RgwEndpoint, rgw_s3: S3Client, tmp_path_factory: pytest.TempPathFactory):
    rgw_s3.create_bucket(Bucket=BUCKET)
    for key in keys():
        rgw_s3.put_object(
            Bucket=BUCKET, Key=f"scenarios/{key}", Body=(SCENARIOS / key).read_bytes()
        )
    fleet = Fleet(lab, rgw, tmp_path_factory.mktemp("pause-fleet"))
    # A first run: every node healthy; it leaves the registry settings `glue image push` reads.
    fleet.play("e2e-pause-first", *scenarios())
    return fleet


def without_login_on_node() -> list[str]:
    """run.yml applies the worker role, which would log NODE in again: for NODE only, the
    role's documented way to skip the login (an empty worker_registry_host)."""
    others = "simfleet_registry_host | default(groups['registry'] | default([]) | first)"
    host = f"{{{{ '' if inventory_hostname == '{NODE}' else {others} }}}}"
    return ["-e", json.dumps({"worker_registry_host": host})]


def scenarios() -> list[str]:
    return ["-e", f"run_scenarios=s3://{BUCKET}/scenarios"]


def push_new_tag(fleet: Fleet) -> str:
    """The executor image under a tag no node has pulled; the reference workers pull."""
    name = f"simfleet/executor:pause-{uuid.uuid4().hex[:8]}"
    pushed = subprocess.run(
        [
            str(Path(sys.executable).parent / "glue"),
            "image",
            "push",
            LOCAL_IMAGE,
            "--name",
            name,
            "--registry-config",
            str(fleet.tmp / "state/registry.yml"),
        ],
        env=fleet.lab.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pushed.returncode == 0, pushed.stderr
    return pushed.stdout.strip()


def on_node(lab, command: str) -> subprocess.CompletedProcess[str]:
    done = lab.run("ansible", NODE, "-b", "-m", "ansible.builtin.shell", "-a", command)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def paused_of(fleet: Fleet, run_id: str) -> dict[str, dict]:
    status = fleet.glue("status", run_id, "--json")
    if status.returncode != 0:
        return {}
    return {p["slot"]: p for p in json.loads(status.stdout)["paused_slots"]}


def test_a_node_that_cannot_pull_pauses_and_the_run_succeeds_elsewhere(fleet: Fleet, lab):
    image = push_new_tag(fleet)
    run_id = "e2e-pause"
    on_node(lab, f"mv {LOGIN} {ASIDE}")
    try:
        log = fleet.tmp / f"{run_id}.log"
        with log.open("w") as out:
            play = subprocess.Popen(
                fleet.run_yml(
                    run_id,
                    *scenarios(),
                    *without_login_on_node(),
                    "-e",
                    f"run_image={image}",
                    "-e",
                    "run_retries=0",
                ),
                cwd=lab.root,
                env=lab.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        seen: dict[str, dict] = {}
        try:
            # What `glue status` shows while the run goes on.
            deadline = time.monotonic() + 1800
            while play.poll() is None:
                assert time.monotonic() < deadline, "run.yml did not end"
                seen.update(paused_of(fleet, run_id))
                time.sleep(1)
        finally:
            if play.poll() is None:
                play.kill()
                play.wait()
        assert play.returncode == 0, log.read_text()[-6000:]

        summary = fleet.summary(run_id)
        assert summary["complete"]
        assert summary["counts"] == {"succeeded": len(keys())}
        assert NODE not in summary["hosts"]
        mine = {slot: p for slot, p in seen.items() if slot.startswith(f"{NODE}/")}
        assert sorted(mine) == [f"{NODE}/1", f"{NODE}/2"], seen
        for pause in mine.values():
            assert pause["reason"].startswith(f"image {image} is not on this host and could not")
        # The report's summary keeps the run's pauses after they end.
        lines = summary["paused_slots"]
        assert [line.split(" ")[0] for line in lines] == [f"{NODE}/1", f"{NODE}/2"]
        assert all(f"paused: image {image} " in line for line in lines)
        page = (fleet.report_dir(run_id) / "report.html").read_text()
        assert "Paused slots (2)" in page
    finally:
        on_node(lab, f"mv {ASIDE} {LOGIN}")
    # The login is back; node3's slots come back by themselves once their pauses end.
    deadline = time.monotonic() + 700
    while any(s.startswith(f"{NODE}/") for s in paused_of(fleet, run_id)):
        assert time.monotonic() < deadline, "node3's slots stayed paused"
        time.sleep(5)
    again = fleet.play("e2e-pause-after", *scenarios(), "-e", f"run_image={image}")
    assert NODE in fleet.summary("e2e-pause-after")["hosts"], again.stdout[-3000:]
