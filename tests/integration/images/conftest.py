"""Fixtures of the job-image tests: the `glue` command as a user runs it, the executor image,
a throw-away registry, and a git checkout to save images from."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from glue.images.dev import DEV_LABEL
from glue.lab.images import Builder
from tests.support.registry import registry  # noqa: F401

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str

    def error_line(self) -> str:
        """The one line a user mistake must end with (and a non-zero exit)."""
        assert self.code != 0, self.out
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("glue: error: "), lines[0]
        return lines[0]


def glue(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> Done:
    """Run `glue ARGS` as its own process, as a user would."""
    run = subprocess.run(
        [sys.executable, "-m", "glue", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
    )
    return Done(run.returncode, run.stdout, run.stderr)


@pytest.fixture(scope="session")
def executor_image() -> str:
    return Builder(log=lambda _: None).build("executor")


@pytest.fixture
def dev_name(executor_image: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A dev container name of this test; the container and its images go afterwards."""
    name = f"glue-test-dev-{os.getpid()}-{request.node.name[-20:].lower().replace('_', '-')}"
    name = "".join(c if c.isalnum() or c in "-." else "-" for c in name)
    yield name
    client = docker.from_env()
    for container in client.containers.list(all=True, filters={"name": name}):
        if container.labels.get(DEV_LABEL) == "1":
            container.remove(force=True)
    for image in client.images.list(name=name):
        client.images.remove(image.id, force=True)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A git checkout named 'My Work' with one commit."""
    repo = tmp_path / "My Work"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q")
    (repo / "notes.txt").write_text("first\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "first")
    return repo
