"""Ansible dynamic inventory for the Vagrant lab, built on python-vagrant.

`vagrant status` says which nodes are up and `vagrant ssh-config` how to reach them; the lab's
groups follow from the node names: the first node holds the registry and the queue's primary,
every node is a worker, and the nodes named in SIMFLEET_GPU_NODES form the gpu group, each
declaring SIMFLEET_GPU_COUNT simulated GPUs (default 1): they get GPU slots, no NVIDIA software
(the lab has no GPU; see roles/nvidia, nvidia_gpus_simulated). From three nodes on, the queue
is replicated as on a real fleet (docs/queue-failover.md): node2 holds a replica and node3 a
third sentinel, so the lab loses its queue host the way a fleet can. Vagrant is slow to
start, so the answer is cached under the Vagrant dotfile folder and rebuilt whenever anything
Vagrant keeps about its machines changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vagrant

from glue.atomic import atomic_write

REPO_ROOT = Path(__file__).resolve().parents[2]
GROUPS = ("queue", "queue_sentinels", "registry", "workers", "gpu")
# Bumped whenever the groups or host variables a lab gets change, so a cached inventory is
# rebuilt.
CACHE_FORMAT = 4
# The nodes share the host's kernel, where RLIMIT_NPROC counts a uid's processes across every
# node: each node's slot accounts get uids of their own (worker_job_uid_base), UID_STRIDE apart.
JOB_UID_BASE = 30000
UID_STRIDE = 100
GPU_COUNT_ENV = "SIMFLEET_GPU_COUNT"
MAX_GPU_COUNT = 8
# From this many nodes on, the queue is a primary and a replica plus a third sentinel.
REPLICATED_QUEUE_NODES = 3


class InventoryError(RuntimeError):
    """Vagrant could not tell us about the lab; the message says why."""


@dataclass(frozen=True)
class SshEndpoint:
    """How Ansible reaches one node, as `vagrant ssh-config` reports it."""

    host: str
    port: int
    user: str
    identity_file: str | None


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort node2 before node10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def parse_ssh_config(text: str) -> dict[str, SshEndpoint]:
    """Parse the output of `vagrant ssh-config` (one or more Host blocks)."""
    blocks: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        value = value.strip()
        if key.lower() == "host":
            current = blocks.setdefault(value, {})
        elif current is not None:
            # First value wins, as in ssh_config; strip the quotes Vagrant puts around paths.
            current.setdefault(key.lower(), " ".join(shlex.split(value)) if value else "")
    endpoints = {}
    for name, opts in blocks.items():
        if "hostname" not in opts:
            continue
        endpoints[name] = SshEndpoint(
            host=opts["hostname"],
            port=int(opts.get("port", "22")),
            user=opts.get("user", "vagrant"),
            identity_file=opts.get("identityfile"),
        )
    return endpoints


def gpu_nodes_from_env(value: str | None) -> set[str]:
    return {n.strip() for n in (value or "").split(",") if n.strip()}


def gpu_count_from_env(value: str | None) -> int:
    """How many simulated GPUs each GPU node declares."""
    text = (value or "1").strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_GPU_COUNT:
        raise InventoryError(f"{GPU_COUNT_ENV} must be a whole number from 1 to {MAX_GPU_COUNT}")
    return int(text)


def queue_layout(names: list[str]) -> tuple[list[str], list[str]]:
    """The queue hosts and the sentinel-only hosts: Sentinel needs three voters, so a lab of
    fewer nodes keeps one Redis rather than a failover that could never be agreed."""
    if len(names) < REPLICATED_QUEUE_NODES:
        return names[:1], []
    return names[:2], names[2:3]


def build_inventory(
    endpoints: dict[str, SshEndpoint], gpu_nodes: set[str], gpu_count: int = 1
) -> dict[str, Any]:
    """Ansible's JSON inventory for the running nodes, with the lab's groups."""
    names = sorted(endpoints, key=natural_key)
    queue, sentinels = queue_layout(names)
    groups: dict[str, list[str]] = {
        "queue": queue,
        "queue_sentinels": sentinels,
        "registry": names[:1],
        "workers": names,
        "gpu": [n for n in names if n in gpu_nodes],
    }
    hostvars = {}
    for position, name in enumerate(names, start=1):
        ep = endpoints[name]
        hv: dict[str, Any] = {
            "ansible_host": ep.host,
            "ansible_port": ep.port,
            "ansible_user": ep.user,
            "worker_job_uid_base": JOB_UID_BASE + UID_STRIDE * position,
        }
        if ep.identity_file:
            hv["ansible_ssh_private_key_file"] = ep.identity_file
        if name in gpu_nodes:
            hv.update(nvidia_gpu_count_override=gpu_count, nvidia_gpus_simulated=True)
        hostvars[name] = hv
    inventory: dict[str, Any] = {
        "_meta": {"hostvars": hostvars},
        "all": {"children": [*GROUPS, "ungrouped"]},
        "ungrouped": {"hosts": []},
    }
    for group in GROUPS:
        inventory[group] = {"hosts": groups[group]}
    return inventory


class VagrantLab:
    """Reads the lab's state through python-vagrant, with a cache keyed on Vagrant's files."""

    def __init__(self, root: Path = REPO_ROOT, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("VAGRANT_CHECKPOINT_DISABLE", "1")
        self.env.setdefault("VAGRANT_NO_COLOR", "1")
        dotfile = self.env.get("VAGRANT_DOTFILE_PATH") or str(root / ".vagrant")
        self.dotfile = Path(dotfile) if os.path.isabs(dotfile) else root / dotfile
        self.cache_file = self.dotfile / "simfleet-inventory.json"

    def fingerprint(self) -> str:
        """Changes whenever Vagrant creates, starts, stops or destroys a machine."""
        gpus = f"{self.env.get('SIMFLEET_GPU_NODES', '')}\0{self.env.get(GPU_COUNT_ENV, '')}"
        h = hashlib.sha256(f"{CACHE_FORMAT}\0{gpus}".encode())
        machines = self.dotfile / "machines"
        if machines.is_dir():
            for path in sorted(p for p in machines.rglob("*") if p.is_file()):
                st = path.stat()
                h.update(f"{path.relative_to(machines)}\0{st.st_mtime_ns}\0{st.st_size}\0".encode())
        return h.hexdigest()

    def query(self) -> dict[str, SshEndpoint]:
        """Ask Vagrant which nodes run and how to reach them."""
        v = vagrant.Vagrant(root=str(self.root), env=self.env, quiet_stderr=False)
        try:
            statuses = v.status()
            running = [s.name for s in statuses if s.state == v.RUNNING]
            if not running:
                return {}
            if len(running) == len(statuses):
                text = v.ssh_config()
            else:
                text = "\n".join(v.ssh_config(vm_name=name) for name in running)
        except FileNotFoundError as exc:
            raise InventoryError("vagrant is not installed: run 'make setup'") from exc
        except Exception as exc:  # python-vagrant raises CalledProcessError and others
            raise InventoryError(f"vagrant failed in {self.root}: {exc}") from exc
        return parse_ssh_config(text)

    def inventory(self, refresh: bool = False) -> dict[str, Any]:
        key = self.fingerprint()
        if not refresh and self.cache_file.is_file():
            try:
                cached = json.loads(self.cache_file.read_text())
                if cached.get("fingerprint") == key:
                    return cached["inventory"]
            except (OSError, ValueError, KeyError):
                pass
        result = build_inventory(
            self.query(),
            gpu_nodes_from_env(self.env.get("SIMFLEET_GPU_NODES")),
            gpu_count_from_env(self.env.get(GPU_COUNT_ENV)),
        )
        key = self.fingerprint()  # again: asking Vagrant may itself touch its files
        if self.dotfile.is_dir():
            with atomic_write(self.cache_file) as f:
                f.write(json.dumps({"fingerprint": key, "inventory": result}).encode())
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ansible inventory of the simfleet Vagrant lab")
    parser.add_argument("--list", action="store_true", help="print the whole inventory")
    parser.add_argument("--host", help="print one host's variables (all are in --list)")
    parser.add_argument("--refresh", action="store_true", help="ignore the cache")
    args = parser.parse_args(argv)
    try:
        inv = VagrantLab().inventory(
            refresh=args.refresh or bool(os.environ.get("SIMFLEET_INVENTORY_REFRESH"))
        )
    except InventoryError as exc:
        print(f"simfleet inventory: {exc}", file=sys.stderr)
        return 1
    if args.host:
        print(json.dumps(inv["_meta"]["hostvars"].get(args.host, {})))
    else:
        print(json.dumps(inv, indent=2))
    return 0
