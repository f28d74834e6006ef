"""The e2e lab: one Vagrant lab per test session, in its own dotfile folder so a developer's
own lab (.vagrant/) is left alone, destroyed at the end with nothing left behind: by `make
lab-destroy` given a count of 1, which must still remove every node the lab made."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from glue.lab.images import Builder
from tests.support.rgw import rgw, rgw_s3  # noqa: F401

E2E_NODES = int(os.environ.get("SIMFLEET_E2E_NODES", "3"))
# One simulated GPU on node2 for the whole session: its slot 1 is a GPU slot, its slot 2 keeps
# taking the CPU jobs of every other test (tests/e2e/test_gpu_routing.py).
GPU_NODE = "node2"
UP_ATTEMPTS = 3
VANISHED = "No such object"


@dataclass
class Lab:
    root: Path
    dotfile: Path
    env: dict[str, str]
    nodes: list[str]
    # What `vagrant up` printed, the provisioner's PLAY RECAP included.
    up_output: str = ""

    def run(
        self, *cmd: str, timeout: int = 1200, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(cmd),
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def up(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`vagrant up`, run again while it fails on an engine object that vanished. The docker
        provider lists the engine's containers and networks, then inspects each: one removed in
        between, by the tests running beside these (they make and remove their own), fails the
        whole command with "No such object" (CI, 2026-12-03). Run again, it goes on from where
        it stopped."""
        for _ in range(UP_ATTEMPTS):
            done = self.run("vagrant", "up", *args)
            output = done.stdout + done.stderr
            vanished = '["docker", "inspect"' in output and VANISHED in output
            if done.returncode == 0 or not vanished:
                return done
        return done

    def container_ids(self) -> list[str]:
        return [p.read_text().strip() for p in self.dotfile.glob("machines/*/docker/id")]

    def container(self, node: str) -> str:
        """The Docker container id of a node."""
        return (self.dotfile / "machines" / node / "docker" / "id").read_text().strip()


@pytest.fixture(scope="session")
def lab(repo_root: Path, tmp_path_factory: pytest.TempPathFactory):
    Builder(log=lambda _msg: None).build("node")
    dotfile = tmp_path_factory.mktemp("vagrant-lab")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "VAGRANT_DOTFILE_PATH": str(dotfile),
        "VAGRANT_CHECKPOINT_DISABLE": "1",
        "VAGRANT_NO_COLOR": "1",
        "SIMFLEET_NODES": str(E2E_NODES),
        "SIMFLEET_GPU_NODES": GPU_NODE,
        "SIMFLEET_GPU_COUNT": "1",
        "ANSIBLE_CONFIG": str(repo_root / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
    }
    lab = Lab(repo_root, dotfile, env, [f"node{i}" for i in range(1, E2E_NODES + 1)])
    up = lab.up()
    try:
        assert up.returncode == 0, f"vagrant up failed:\n{up.stdout[-4000:]}\n{up.stderr[-4000:]}"
        lab.up_output = up.stdout
        yield lab
    finally:
        ids = lab.container_ids()
        down = lab.run("make", "--no-print-directory", "lab-destroy", env={"SIMFLEET_NODES": "1"})
        assert down.returncode == 0, down.stdout + down.stderr
        left = [
            c.name
            for c in docker.from_env().containers.list(all=True)
            if c.id in ids or any(c.id.startswith(i) for i in ids)
        ]
        assert not left, f"vagrant destroy left containers behind: {left}"
