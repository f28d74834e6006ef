"""The foundation end to end: vagrant up of the lab, Ansible through the project inventory."""

from __future__ import annotations

import json
import re


def recap(output: str) -> dict[str, dict[str, int]]:
    """Per-host counters from the PLAY RECAP of an ansible-playbook run."""
    hosts = {}
    for m in re.finditer(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", output, re.M):
        hosts[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return hosts


def test_vagrant_up_provisions_every_node_with_site_yml(lab) -> None:
    stats = recap(lab.up_output)
    assert set(stats) == set(lab.nodes), lab.up_output[-3000:]
    assert all(s["failed"] == 0 and s["unreachable"] == 0 for s in stats.values())


def test_every_node_answers_ansible_ping(lab) -> None:
    run = lab.run("ansible", "all", "-m", "ansible.builtin.ping")
    assert run.returncode == 0, run.stdout + run.stderr
    for node in lab.nodes:
        assert re.search(rf"^{node} \| SUCCESS", run.stdout, re.M), run.stdout


def test_inventory_puts_nodes_in_the_lab_groups(lab) -> None:
    run = lab.run("ansible-inventory", "--list")
    assert run.returncode == 0, run.stderr
    inv = json.loads(run.stdout)
    # From three nodes on, the queue is a primary and a replica with a third sentinel.
    replicated = len(lab.nodes) >= 3
    assert inv["queue"]["hosts"] == (["node1", "node2"] if replicated else ["node1"])
    assert inv["queue_sentinels"]["hosts"] == (["node3"] if replicated else [])
    assert inv["registry"]["hosts"] == ["node1"]
    assert inv["workers"]["hosts"] == lab.nodes


def test_a_second_site_run_changes_nothing(lab) -> None:
    run = lab.run("ansible-playbook", "site.yml")
    assert run.returncode == 0, run.stdout[-4000:]
    stats = recap(run.stdout)
    assert set(stats) == set(lab.nodes)
    assert {n: s["changed"] for n, s in stats.items()} == dict.fromkeys(lab.nodes, 0)


def test_nodes_know_each_other_by_name(lab) -> None:
    last = lab.nodes[-1]
    run = lab.run("ansible", last, "-m", "ansible.builtin.command", "-a", "getent hosts node1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"\d+\.\d+\.\d+\.\d+\s+node1", run.stdout), run.stdout
