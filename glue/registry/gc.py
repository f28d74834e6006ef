"""Garbage collection: the only way deleted images give their space back.

Deleting a manifest through the API frees nothing; `docker-registry garbage-collect` on the
registry host removes the blobs no manifest needs. It runs where the registry's storage is:
on an inventory host through Ansible (the fleet), or inside a local registry container (tests,
a registry of one's own). Both run the same shell script; the report is the bytes the
collection freed (the storage's size before and after), or for --dry-run the sizes of the
blobs it would delete.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from glue.registry.access import RegistryError

CONFIG = "/etc/docker/registry/config.yml"
STORAGE = "/var/lib/docker-registry"
SERVICE = "docker-registry"
_ELIGIBLE = re.compile(r"blob eligible for deletion: (sha256:[0-9a-f]{64})")
_SIZE = re.compile(r"^simfleet-gc-size (\d+)$", re.M)
_BYTES = re.compile(r"^simfleet-gc-bytes (\d+) (\d+)$", re.M)


class Target(Protocol):
    """Where the registry's storage is: runs a shell script there, as root."""

    name: str
    service: str | None

    def shell(self, script: str) -> tuple[int, str]: ...


@dataclass(frozen=True)
class ContainerTarget:
    """A registry running in a local container (tests, a registry of one's own). Its process
    keeps serving meanwhile and may remember deleted blobs: restart it before pushing again."""

    container: str
    service: str | None = None

    @property
    def name(self) -> str:
        return f"container {self.container}"

    def shell(self, script: str) -> tuple[int, str]:
        # Imported here: the fleet's commands (ls, rm, gc on a host) need no Docker SDK.
        import docker
        import docker.errors

        try:
            found = docker.from_env().containers.get(self.container)
        except docker.errors.NotFound:
            raise RegistryError(f"no container named {self.container}") from None
        code, output = found.exec_run(["sh", "-c", script], user="root")
        return code, output.decode(errors="replace")


def _ansible() -> str:
    """The ansible of glue's own venv (make setup installs both there), else the PATH's."""
    beside = Path(sys.executable).parent / "ansible"
    return str(beside) if beside.is_file() else "ansible"


@dataclass(frozen=True)
class InventoryTarget:
    """The registry host of an Ansible inventory; the registry service is stopped while it
    collects (a push during collection could lose layers), as the registry role's gc unit does."""

    # A host or an Ansible pattern naming one: by default the first of group `registry`.
    host: str = "registry[0]"
    inventory: str | None = None
    service: str | None = SERVICE

    @property
    def name(self) -> str:
        return f"host {self.host}"

    def shell(self, script: str) -> tuple[int, str]:
        argv = [_ansible(), self.host, "--become", "-m", "ansible.builtin.shell", "-a", script]
        if self.inventory:
            argv[1:1] = ["-i", self.inventory]
        env = {
            **os.environ,
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_STDOUT_CALLBACK": "json",
        }
        try:
            run = subprocess.run(argv, capture_output=True, text=True, env=env)
        except FileNotFoundError:
            raise RegistryError("ansible is not installed here: run 'make setup'") from None
        try:
            hosts = json.loads(run.stdout)["plays"][0]["tasks"][0]["hosts"]
        except (ValueError, KeyError, IndexError):
            if "No hosts matched" in run.stderr:
                raise RegistryError(f"the inventory has no host matching {self.host}") from None
            tail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RegistryError(f"ansible could not reach {self.host}: {tail[0]}") from None
        if len(hosts) != 1:
            raise RegistryError(f"{self.host} names {len(hosts)} hosts of the inventory, not one")
        result = next(iter(hosts.values()))
        if result.get("unreachable"):
            raise RegistryError(f"{self.host} is unreachable: {result.get('msg', '')}".strip())
        output = (result.get("stdout", "") + "\n" + result.get("stderr", "")).strip()
        return result.get("rc", 1), output or result.get("msg", "")


@dataclass(frozen=True)
class Report:
    dry_run: bool
    blobs: list[str]
    freed: int
    output: str


def _collect_command(dry_run: bool, config: str) -> str:
    flags = "--dry-run --delete-untagged" if dry_run else "--delete-untagged"
    return f"docker-registry garbage-collect {flags} {shlex.quote(config)}"


def dry_run_script(config: str, storage: str) -> str:
    blobs = shlex.quote(f"{storage}/docker/registry/v2/blobs/sha256")
    return (
        f'out=$({_collect_command(True, config)} 2>&1) || {{ echo "$out"; exit 1; }}\n'
        'echo "$out"\n'
        "echo \"$out\" | sed -n 's/.*blob eligible for deletion: sha256:\\([0-9a-f]*\\).*/\\1/p'"
        " | sort -u | while read -r d; do\n"
        f'  f={blobs}/$(echo "$d" | cut -c1-2)/$d/data\n'
        '  [ -f "$f" ] && echo "simfleet-gc-size $(stat -c %s "$f")"\n'
        "done\n"
        "true\n"
    )


def collect_script(config: str, storage: str, service: str | None) -> str:
    quoted = shlex.quote(storage)
    stop = f"systemctl stop {shlex.quote(service)}\n" if service else ""
    start = f"systemctl start {shlex.quote(service)}\n" if service else ""
    return (
        f"before=$(du -sb {quoted} | cut -f1)\n{stop}"
        f"rc=0; {_collect_command(False, config)} 2>&1 || rc=$?\n{start}"
        f"after=$(du -sb {quoted} | cut -f1)\n"
        'echo "simfleet-gc-bytes $before $after"\n'
        "exit $rc\n"
    )


def collect(target: Target, dry_run: bool, config: str = CONFIG, storage: str = STORAGE) -> Report:
    script = (
        dry_run_script(config, storage)
        if dry_run
        else collect_script(config, storage, target.service)
    )
    code, output = target.shell(script)
    if code != 0:
        tail = output.strip().splitlines()[-1:] or [f"exit {code}"]
        raise RegistryError(f"garbage collection on {target.name} failed: {tail[0]}")
    blobs = sorted(set(_ELIGIBLE.findall(output)))
    if dry_run:
        freed = sum(int(size) for size in _SIZE.findall(output))
    else:
        sizes = _BYTES.search(output)
        freed = max(0, int(sizes[1]) - int(sizes[2])) if sizes else 0
    shown = "\n".join(line for line in output.splitlines() if not line.startswith("simfleet-gc-"))
    return Report(dry_run, blobs, freed, shown)
