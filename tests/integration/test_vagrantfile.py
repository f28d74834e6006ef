"""The Vagrantfile and the inventory against the real vagrant command (no machine is started)."""

from __future__ import annotations

import os
import subprocess

import pytest

from glue.lab.inventory import VagrantLab


def vagrant(repo_root, tmp_path, *args, nodes=None):
    env = {
        **os.environ,
        "VAGRANT_CHECKPOINT_DISABLE": "1",
        "VAGRANT_NO_COLOR": "1",
        "VAGRANT_DOTFILE_PATH": str(tmp_path / "dot"),
    }
    env.pop("SIMFLEET_NODES", None)
    if nodes is not None:
        env["SIMFLEET_NODES"] = nodes
    return subprocess.run(
        ["vagrant", *args], cwd=repo_root, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("bad", ["0", "abc", "-1", "2.5", "65"])
def test_a_wrong_node_count_stops_with_one_line(repo_root, tmp_path, bad) -> None:
    run = vagrant(repo_root, tmp_path, "status", nodes=bad)
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert lines == [f'simfleet: SIMFLEET_NODES must be a whole number from 1 to 64, got "{bad}"']


def test_node_count_defines_node1_to_nodeN(repo_root, tmp_path) -> None:
    run = vagrant(repo_root, tmp_path, "status", "--machine-readable", nodes="4")
    assert run.returncode == 0, run.stderr
    names = {
        line.split(",")[1] for line in run.stdout.splitlines() if line.split(",")[2:3] == ["state"]
    }
    assert names == {"node1", "node2", "node3", "node4"}


def test_the_docker_provider_is_chosen_where_no_hypervisor_is_usable(repo_root, tmp_path) -> None:
    run = vagrant(repo_root, tmp_path, "status", "--machine-readable", nodes="1")
    providers = {
        line.split(",")[3]
        for line in run.stdout.splitlines()
        if line.split(",")[2:3] == ["provider-name"]
    }
    assert providers == {"docker"}


def test_the_node_count_of_the_last_up_is_remembered(repo_root, tmp_path) -> None:
    (tmp_path / "dot").mkdir()
    assert vagrant(repo_root, tmp_path, "status", nodes="5").returncode == 0
    run = vagrant(repo_root, tmp_path, "status", "--machine-readable")
    assert "node5,state" in run.stdout


def test_inventory_of_a_lab_that_is_not_up_is_empty(repo_root, tmp_path) -> None:
    env = {**os.environ, "VAGRANT_DOTFILE_PATH": str(tmp_path / "dot"), "SIMFLEET_NODES": "2"}
    inv = VagrantLab(root=repo_root, env=env).inventory(refresh=True)
    assert inv["workers"]["hosts"] == []
    assert inv["_meta"]["hostvars"] == {}
