"""The Vagrant inventory: parsing Vagrant's answers, the lab's groups, and the cache."""

from __future__ import annotations

import json
import os

import pytest

from glue.lab import inventory
from glue.lab.inventory import (
    UID_STRIDE,
    InventoryError,
    SshEndpoint,
    VagrantLab,
    build_inventory,
    gpu_count_from_env,
    gpu_nodes_from_env,
    natural_key,
    parse_ssh_config,
)
from tests.support.processes import run_at_once

SSH_CONFIG = """\
Host node1
  HostName 127.0.0.1
  User vagrant
  Port 2222
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile "/home/me/my lab/.vagrant/machines/node1/docker/private_key"
  IdentitiesOnly yes
  LogLevel FATAL

Host node2
  HostName 172.17.0.3
  User vagrant
  Port 22
  IdentityFile /srv/.vagrant/machines/node2/docker/private_key
  IdentityFile /srv/second_key
"""


def ep(host: str = "127.0.0.1", port: int = 22) -> SshEndpoint:
    return SshEndpoint(host=host, port=port, user="vagrant", identity_file=None)


def test_parse_ssh_config_reads_every_host_block() -> None:
    eps = parse_ssh_config(SSH_CONFIG)
    assert set(eps) == {"node1", "node2"}
    assert eps["node1"] == SshEndpoint(
        "127.0.0.1", 2222, "vagrant", "/home/me/my lab/.vagrant/machines/node1/docker/private_key"
    )
    # ssh uses the first value of a repeated option; so does the parser.
    assert eps["node2"].identity_file == "/srv/.vagrant/machines/node2/docker/private_key"
    assert eps["node2"].port == 22


def test_parse_ssh_config_skips_hosts_without_an_address() -> None:
    assert parse_ssh_config("Host ghost\n  User vagrant\n") == {}
    assert parse_ssh_config("") == {}


def test_groups_follow_the_lab_layout() -> None:
    inv = build_inventory({f"node{i}": ep(port=2200 + i) for i in (3, 1, 2)}, set())
    # Primary node1, replica node2, a sentinel on each of node1..3.
    assert inv["queue"]["hosts"] == ["node1", "node2"]
    assert inv["queue_sentinels"]["hosts"] == ["node3"]
    assert inv["registry"]["hosts"] == ["node1"]
    assert inv["workers"]["hosts"] == ["node1", "node2", "node3"]
    assert inv["gpu"]["hosts"] == []
    assert inv["_meta"]["hostvars"]["node3"] == {
        "ansible_host": "127.0.0.1",
        "ansible_port": 2203,
        "ansible_user": "vagrant",
        "worker_job_uid_base": 30300,
    }
    assert set(inv["all"]["children"]) >= {"queue", "queue_sentinels", "registry", "workers", "gpu"}


@pytest.mark.parametrize("count", [1, 2])
def test_a_lab_of_one_or_two_nodes_keeps_one_queue_host(count: int) -> None:
    """Two sentinels could never agree on a failover, so there is no replica to fail over to."""
    inv = build_inventory({f"node{i}": ep() for i in range(1, count + 1)}, set())
    assert inv["queue"]["hosts"] == ["node1"]
    assert inv["queue_sentinels"]["hosts"] == []


def test_node_order_is_numeric_so_node1_leads_a_big_lab() -> None:
    names = [f"node{i}" for i in range(1, 12)]
    inv = build_inventory({n: ep() for n in reversed(names)}, set())
    assert inv["workers"]["hosts"] == names
    # Three sentinels however big the lab: more voters would only slow the vote down.
    assert inv["queue"]["hosts"] == ["node1", "node2"]
    assert inv["queue_sentinels"]["hosts"] == ["node3"]
    assert sorted(["node10", "node9", "node1"], key=natural_key) == ["node1", "node9", "node10"]


def test_each_node_gives_its_slot_accounts_uids_of_their_own() -> None:
    """The nodes share one kernel, whose process limit counts per uid across all of them: a
    fork bomb on one node must not use up a slot's limit on another."""
    inv = build_inventory({f"node{i}": ep() for i in range(1, 12)}, set())
    bases = [hv["worker_job_uid_base"] for hv in inv["_meta"]["hostvars"].values()]
    uids = {base + slot for base in bases for slot in range(1, UID_STRIDE)}
    assert len(uids) == len(bases) * (UID_STRIDE - 1)
    assert min(bases) >= 1000  # clear of the system accounts a node makes itself


def test_gpu_group_takes_only_running_nodes_named_in_the_environment() -> None:
    gpus = gpu_nodes_from_env(" node2, node7 ,,")
    assert gpus == {"node2", "node7"}
    inv = build_inventory({"node1": ep(), "node2": ep()}, gpus)
    assert inv["gpu"]["hosts"] == ["node2"]


def test_gpu_nodes_declare_simulated_gpus_and_the_others_none() -> None:
    inv = build_inventory({"node1": ep(), "node2": ep()}, {"node2"}, gpu_count_from_env("2"))
    hostvars = inv["_meta"]["hostvars"]
    assert hostvars["node2"]["nvidia_gpu_count_override"] == 2
    assert hostvars["node2"]["nvidia_gpus_simulated"] is True
    assert "nvidia_gpu_count_override" not in hostvars["node1"]
    assert gpu_count_from_env(None) == 1
    for bad in ("0", "9", "two"):
        with pytest.raises(InventoryError, match="SIMFLEET_GPU_COUNT must be a whole number"):
            gpu_count_from_env(bad)


def test_no_running_node_gives_an_empty_but_valid_inventory() -> None:
    inv = build_inventory({}, set())
    assert inv["workers"]["hosts"] == [] and inv["queue"]["hosts"] == []
    assert inv["queue_sentinels"]["hosts"] == []
    assert inv["_meta"]["hostvars"] == {}


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """A VagrantLab over a fake dotfile folder whose Vagrant answers are counted."""
    dotfile = tmp_path / "dot"
    (dotfile / "machines" / "node1" / "docker").mkdir(parents=True)
    (dotfile / "machines" / "node1" / "docker" / "id").write_text("abc")
    lab = VagrantLab(root=tmp_path, env={"VAGRANT_DOTFILE_PATH": str(dotfile)})
    calls = []

    def query():
        calls.append(1)
        return {"node1": ep(port=2222)}

    monkeypatch.setattr(lab, "query", query)
    return lab, dotfile, calls


def test_cache_answers_until_vagrant_changes_a_machine(lab) -> None:
    lab, dotfile, calls = lab
    first = lab.inventory()
    assert lab.inventory() == first
    assert len(calls) == 1
    assert json.loads(lab.cache_file.read_text())["inventory"] == first

    id_file = dotfile / "machines" / "node1" / "docker" / "id"
    id_file.write_text("a-new-container-id")
    os.utime(id_file, ns=(1, 1))
    lab.inventory()
    assert len(calls) == 2


def test_refresh_ignores_the_cache_and_a_corrupt_cache_is_rebuilt(lab) -> None:
    lab, _, calls = lab
    lab.inventory()
    lab.inventory(refresh=True)
    assert len(calls) == 2
    lab.cache_file.write_text("{not json")
    assert lab.inventory()["workers"]["hosts"] == ["node1"]
    assert len(calls) == 3


def test_parallel_runs_of_the_inventory_script_all_succeed(lab) -> None:
    """ansible-lint syntax-checks playbooks in parallel, each run rebuilding the cache."""
    lab, dotfile, _ = lab

    def rebuild_many() -> None:
        for _ in range(100):
            lab.inventory(refresh=True)

    assert run_at_once(rebuild_many) == [0, 0, 0, 0]
    assert json.loads(lab.cache_file.read_text())["inventory"]["workers"]["hosts"] == ["node1"]
    assert sorted(os.listdir(dotfile)) == ["machines", "simfleet-inventory.json"]


def test_gpu_setting_is_part_of_the_cache_key(tmp_path) -> None:
    a = VagrantLab(root=tmp_path, env={})
    b = VagrantLab(root=tmp_path, env={"SIMFLEET_GPU_NODES": "node1"})
    c = VagrantLab(root=tmp_path, env={"SIMFLEET_GPU_NODES": "node1", "SIMFLEET_GPU_COUNT": "2"})
    assert len({a.fingerprint(), b.fingerprint(), c.fingerprint()}) == 3


def test_relative_dotfile_path_is_taken_from_the_project_root(tmp_path) -> None:
    lab = VagrantLab(root=tmp_path, env={"VAGRANT_DOTFILE_PATH": "elsewhere"})
    assert lab.cache_file == tmp_path / "elsewhere" / "simfleet-inventory.json"


def test_main_prints_host_variables_and_reports_vagrant_errors(monkeypatch, capsys) -> None:
    inv = build_inventory({"node1": ep(port=2222)}, set())
    monkeypatch.setattr(VagrantLab, "inventory", lambda self, refresh=False: inv)
    assert inventory.main(["--host", "node1"]) == 0
    assert json.loads(capsys.readouterr().out)["ansible_port"] == 2222

    def broken(self, refresh=False):
        raise inventory.InventoryError("vagrant failed in /x: boom")

    monkeypatch.setattr(VagrantLab, "inventory", broken)
    assert inventory.main(["--list"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "simfleet inventory: vagrant failed in /x: boom"
