"""Your own job image on the 3-node lab, the way the README walks it: after a run.yml, a team
makes an image with `glue image` (new -> exec -> save), pushes it to node1:6001 with `glue image
push`, and runs its scenarios in it with run.yml's run_image on every node; then `glue run` from
this machine, with only the settings run.yml left (`. .cache/run/env`, here in the fleet's state
folder) and no --image, runs on the fleet in that image too.

The scenarios read a file that only the image made here has, so a result proves which image a
job ran in. The lab is left whole: the test adds an image to the registry and runs jobs; its dev
container and local images go at the end."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from glue.images.dev import DEV_LABEL
from glue.lab.rgw import RgwEndpoint
from glue.s3.client import S3Client
from tests.e2e.test_run import Fleet

BUCKET = "e2e-images"
COUNT = 12  # twice the lab's slots: each of the 6 slots waits for one when they are queued
MARK = "/opt/team-image/mark"
SCENARIO = f"""\
import json, os, time
time.sleep(2)
with open("{MARK}") as f:
    mark = f.read().strip()
with open(os.path.join(os.environ["SIMFLEET_IO"], "results", "result.json"), "w") as f:
    json.dump({{"value": 1, "mark": mark}}, f)
"""
KEYS = [f"team/mark-{i:02}.py" for i in range(COUNT)]
SOURCE = f"s3://{BUCKET}/team"
NAME = f"e2e-team-image-{os.getpid()}"
TOKEN = secrets.token_hex(8)


def play(fleet: Fleet, run_id: str, **settings: Any) -> dict[str, Any]:
    """run.yml over the team's scenarios; the run's summary."""
    fleet.play(
        run_id,
        "-e",
        json.dumps(
            {
                "run_scenarios": SOURCE,
                "run_reduce": ["count", "concat"],
                "run_retries": 0,
                "run_timeout": 300,
                **settings,
            }
        ),
    )
    return fleet.summary(run_id)


def glue(fleet: Fleet, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """glue on this machine as the README says to after run.yml: `. .cache/run/env` first."""
    done = subprocess.run(
        ["bash", "-c", '. "$0" && exec glue "$@"', str(fleet.tmp / "state" / "env"), *args],
        cwd=cwd or fleet.lab.root,
        env=fleet.lab.env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"glue {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
    return done


def settings_image(fleet: Fleet) -> str:
    """The default image of `glue run` in the settings file run.yml left."""
    return yaml.safe_load((fleet.tmp / "state" / "glue.yml").read_text())["image"]


@pytest.fixture(scope="module")
def fleet(lab, rgw: RgwEndpoint, rgw_s3: S3Client, tmp_path_factory: pytest.TempPathFactory):
    rgw_s3.create_bucket(Bucket=BUCKET)
    for key in KEYS:
        rgw_s3.put_object(Bucket=BUCKET, Key=key, Body=SCENARIO.encode())
    return Fleet(lab, rgw, tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def before(fleet: Fleet) -> dict[str, Any]:
    """A run as `make demo` does it, in the project's executor image; it leaves the settings
    files (registry.yml, glue.yml, env) the rest of the workflow uses."""
    return play(fleet, "e2e-image-before")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The team's git checkout, which names the saved image's tag."""
    repo = tmp_path_factory.mktemp("team-scenarios")
    (repo / "README").write_text("the team's scenarios\n")
    for args in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "first"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    return repo


@pytest.fixture(scope="module")
def pushed(before, fleet: Fleet, checkout: Path, tmp_path_factory) -> Iterator[str]:
    """The image made with glue image and pushed to the lab's registry: what workers pull."""
    io_dir = tmp_path_factory.mktemp("dev-io")
    try:
        glue(fleet, "image", "new", NAME, "--io", str(io_dir), cwd=checkout)
        glue(
            fleet,
            "image",
            "exec",
            NAME,
            "--",
            "sh",
            "-c",
            f"mkdir -p {Path(MARK).parent} && echo {TOKEN} > {MARK} && chmod -R a+rX "
            f"{Path(MARK).parent}",
            cwd=checkout,
        )
        saved = glue(fleet, "image", "save", NAME, cwd=checkout).stdout.strip()
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=checkout,
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert saved == f"{NAME}:{checkout.name}.{head}"
        ref = glue(fleet, "image", "push", saved, cwd=checkout).stdout.strip()
        assert ref == f"{fleet.lab.nodes[0]}:6001/{saved}"
        yield ref
    finally:
        client = docker.from_env()
        for container in client.containers.list(all=True, filters={"name": NAME}):
            if container.labels.get(DEV_LABEL) == "1":
                container.remove(force=True)
        for image in client.images.list(name=NAME):
            client.images.remove(image.id, force=True)


@pytest.fixture(scope="module")
def in_image(pushed: str, fleet: Fleet) -> dict[str, Any]:
    """run.yml with -e run_image=<the reference glue image push printed>."""
    return play(fleet, "e2e-image-fleet", run_image=pushed)


def test_the_executor_image_lacks_what_the_team_image_adds(before, fleet: Fleet) -> None:
    """Without the team's image the scenarios fail on the missing file, not on a pull: the
    mark in a result can only come from the image made here."""
    assert before["counts"] == {"failed": COUNT}
    assert all(MARK in job["log_tail"] for job in before["failures"]), before["failures"][0]
    assert settings_image(fleet).startswith(f"{fleet.lab.nodes[0]}:6001/simfleet/executor:")


def test_the_registry_lists_the_pushed_tag(pushed: str, fleet: Fleet) -> None:
    listed = json.loads(glue(fleet, "registry", "ls", f"{NAME}*", "--json").stdout)
    assert [f"{row['repository']}:{row['tag']}" for row in listed] == [pushed.split("/", 1)[1]]


def test_run_yml_runs_the_pushed_image_on_every_node(in_image, pushed: str, fleet: Fleet) -> None:
    assert in_image["complete"] and in_image["counts"] == {"succeeded": COUNT}
    assert sorted(in_image["hosts"]) == fleet.lab.nodes
    assert in_image["reduced"]["concat"] == [{"value": 1, "mark": TOKEN}] * COUNT
    assert settings_image(fleet) == pushed


def test_glue_run_from_this_machine_needs_no_image(
    in_image, pushed: str, fleet: Fleet, rgw_s3: S3Client
) -> None:
    run_id = "e2e-image-glue"
    queued = glue(fleet, "run", SOURCE, "--run-id", run_id)
    assert f"{COUNT} queued" in queued.stderr
    glue(fleet, "wait", run_id, "--timeout", "600")
    summary = json.loads(glue(fleet, "result", run_id).stdout)
    assert summary["complete"] and summary["counts"] == {"succeeded": COUNT}
    assert set(summary["hosts"]) <= set(fleet.lab.nodes)
    for key in KEYS:
        result = f"results/{run_id}/{key.removeprefix('team/')}/results/result.json"
        body = rgw_s3.get_object(Bucket=BUCKET, Key=result)["Body"].read()
        assert json.loads(body) == {"value": 1, "mark": TOKEN}, key
