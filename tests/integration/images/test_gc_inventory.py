"""`glue registry gc` through an Ansible inventory, as on the fleet: here the inventory's
registry host is the test registry's container, reached with Docker's connection plugin."""

from __future__ import annotations

from pathlib import Path

import docker

from tests.integration.images.conftest import glue
from tests.support.registry import Registry


def test_gc_on_the_inventory_registry_host(registry: Registry, tmp_path: Path) -> None:
    client = docker.from_env()
    client.images.build(
        path=str(tmp_path), dockerfile=_dockerfile(tmp_path), tag="gc-test/tiny:1", rm=True
    )
    try:
        assert glue("image", "push", "gc-test/tiny:1", env=registry.env()).code == 0
    finally:
        client.images.remove("gc-test/tiny:1", force=True)
    assert glue("registry", "rm", "gc-test/tiny:1", env=registry.env()).code == 0
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        "[registry]\n"
        f"registry-host ansible_connection=community.docker.docker "
        f"ansible_host={registry.container} ansible_become_method=su "
        "ansible_python_interpreter=/usr/bin/python3\n"
    )
    args = ["registry", "gc", "-i", str(inventory), "--service", ""]
    dry = glue(*args, "--dry-run")
    assert dry.code == 0, dry.err
    assert dry.out.startswith("would free") and dry.out.rstrip().endswith("on host registry[0]")
    assert int(dry.out.split()[2]) > 0
    done = glue(*args)
    assert done.code == 0, done.err
    assert done.out.startswith("freed") and int(done.out.split()[1]) > 0
    # A host the inventory does not have: one line, non-zero exit.
    missing = glue("registry", "gc", "-i", str(inventory), "--host", "nosuch", "--dry-run")
    assert "the inventory has no host matching nosuch" in missing.error_line()


def _dockerfile(folder: Path) -> str:
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY Dockerfile /gc-note\n")
    return "Dockerfile"
