"""The Vagrantfile's check that a node count never leaves made nodes outside it.

Driven through the real `vagrant` command with a dotfile folder that says which nodes the lab
has made (machines/<node>/docker/id, as Vagrant writes it). Every refusal happens while the
Vagrantfile loads, before Vagrant asks any provider about a machine, so no container is made
and no Docker engine is asked; only the test that lets the command through asks Docker about
the (made-up) machine ids."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not shutil.which("vagrant"), reason="vagrant is not installed")


def lab_with(tmp_path: Path, *nodes: str, saved: int | None = None) -> Path:
    dot = tmp_path / "dot"
    for node in nodes:
        (dot / "machines" / node / "docker").mkdir(parents=True)
        (dot / "machines" / node / "docker" / "id").write_text(f"id-of-{node}\n")
    dot.mkdir(exist_ok=True)
    if saved is not None:
        (dot / "simfleet-nodes").write_text(f"{saved}\n")
    return dot


def vagrant(repo_root: Path, dot: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SIMFLEET_")},
        "VAGRANT_CHECKPOINT_DISABLE": "1",
        "VAGRANT_NO_COLOR": "1",
        "VAGRANT_DOTFILE_PATH": str(dot),
        **env,
    }
    return subprocess.run(
        ["vagrant", *args], cwd=repo_root, env=environ, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("command", [["destroy", "-f"], ["up", "--no-provision"], ["status"]])
def test_a_count_below_the_nodes_made_names_them_and_refuses(repo_root, tmp_path, command) -> None:
    dot = lab_with(tmp_path, "node1", "node2", "node3", saved=3)
    run = vagrant(repo_root, dot, *command, SIMFLEET_NODES="2")
    assert run.returncode != 0
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("simfleet: this lab has node3 beyond SIMFLEET_NODES=2"), line
    assert "SIMFLEET_REMOVE_EXTRA=1 vagrant destroy -f node3" in line
    # Nothing changed: the lab still remembers the count that covers node3.
    assert (dot / "simfleet-nodes").read_text() == "3\n"
    assert (dot / "machines/node3/docker/id").exists()


def test_every_node_left_out_is_named(repo_root, tmp_path) -> None:
    dot = lab_with(tmp_path, "node1", "node2", "node3", "node4", "node10")
    run = vagrant(repo_root, dot, "status", SIMFLEET_NODES="3")
    assert run.returncode != 0
    assert "this lab has node4, node10 beyond SIMFLEET_NODES=3" in run.stderr
    assert "vagrant destroy -f node4 node10" in run.stderr


def test_a_remembered_count_below_the_nodes_made_refuses_too(repo_root, tmp_path) -> None:
    dot = lab_with(tmp_path, "node1", "node2", "node3", saved=2)
    run = vagrant(repo_root, dot, "status")
    assert run.returncode != 0
    assert "this lab has node3 beyond SIMFLEET_NODES=2" in run.stderr


def test_asking_to_remove_them_does_not_make_up_bring_them_up(repo_root, tmp_path) -> None:
    dot = lab_with(tmp_path, "node1", "node2", "node3", saved=3)
    run = vagrant(
        repo_root, dot, "up", "--no-provision", SIMFLEET_NODES="2", SIMFLEET_REMOVE_EXTRA="1"
    )
    assert run.returncode != 0
    assert "this lab has node3 beyond SIMFLEET_NODES=2" in run.stderr


def test_nodes_destroyed_before_do_not_count(repo_root, tmp_path) -> None:
    dot = lab_with(tmp_path)
    (dot / "machines/node3/docker").mkdir(parents=True)  # Vagrant keeps the folder, drops the id
    run = vagrant(repo_root, dot, "validate", SIMFLEET_NODES="2")
    assert run.returncode == 0, run.stderr


@pytest.mark.skipif(not shutil.which("docker"), reason="the docker provider needs docker")
def test_asked_to_remove_them_vagrant_sees_them_so_destroy_can(repo_root, tmp_path) -> None:
    dot = lab_with(tmp_path, "node1", "node2", "node3", saved=3)
    extra = {"SIMFLEET_NODES": "2", "SIMFLEET_REMOVE_EXTRA": "1"}
    run = vagrant(repo_root, dot, "status", "--machine-readable", **extra)
    assert run.returncode == 0, run.stderr
    states = {line.split(",")[1] for line in run.stdout.splitlines() if ",state," in line}
    assert states == {"node1", "node2", "node3"}
