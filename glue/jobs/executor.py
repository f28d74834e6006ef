"""What both executors share: the io-dir, the command template, the outcome of one execution,
and the cleanups a dying work horse must still run.

The io-dir is the whole contract with a scenario: its file in inputs/, the job's settings in
configs/job.json, its answer in results/result.json, its output (with timestamps) in
logs/output.log. The scenario finds the io-dir in $SIMFLEET_IO.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glue.errors import GlueError

SUBDIRS = ("inputs", "configs", "results", "logs")
LOG_NAME = "output.log"
RESULT_NAME = "result.json"
TAIL_LINES = 30
TAIL_BYTES = 4096
# The environment variables a job passes on from the worker (proxies, in both spellings).
PASS_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")

SUCCEEDED, FAILED, TIMED_OUT = "succeeded", "failed", "timed_out"


class ExecutorError(GlueError):
    """The executor could not run the scenario at all (no image, no GPU runtime, no venv)."""


def iso_utc(moment: datetime | None = None) -> str:
    """One timestamp format for both executors: 2024-05-01T12:00:00.123456Z."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class IoDir:
    root: Path

    @classmethod
    def create(cls, root: Path) -> IoDir:
        """A fresh io-dir; leftovers of an earlier attempt at the same job are dropped."""
        shutil.rmtree(root, ignore_errors=True)
        for sub in SUBDIRS:
            (root / sub).mkdir(parents=True)
        return cls(root)

    @property
    def inputs(self) -> Path:
        return self.root / "inputs"

    @property
    def configs(self) -> Path:
        return self.root / "configs"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def log(self) -> Path:
        return self.logs / LOG_NAME

    def result(self) -> Any:
        """The scenario's results/result.json, None when it wrote none."""
        path = self.results / RESULT_NAME
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"results/{RESULT_NAME} is not valid JSON: {exc}") from None

    def log_tail(self) -> str:
        """The last lines of the scenario's output, for the run summary of a failure."""
        if not self.log.is_file():
            return ""
        with self.log.open("rb") as f:
            f.seek(max(0, self.log.stat().st_size - TAIL_BYTES))
            text = f.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-TAIL_LINES:])

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass(frozen=True)
class ExecSpec:
    """How to run one scenario; `command` may use {scenario} and {io}, filled per executor."""

    command: list[str]
    scenario_file: str
    timeout: int
    # Unique per job on a host: the container's name.
    name: str
    host: str
    image: str = ""
    env: dict[str, str] = field(default_factory=dict)
    # run, job and scenario: labels on the container, so its job can be found from it.
    tags: dict[str, str] = field(default_factory=dict)
    cpus: float | None = None
    memory: str | None = None
    gpus: int = 0
    venv: str | None = None

    def argv(self, io_root: str) -> list[str]:
        scenario = f"{io_root}/inputs/{self.scenario_file}"
        return [a.replace("{scenario}", scenario).replace("{io}", io_root) for a in self.command]

    def environment(self, io_root: str) -> dict[str, str]:
        passed = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        return {**passed, **self.env, "SIMFLEET_IO": io_root}


@dataclass(frozen=True)
class ExecResult:
    status: str
    exit_code: int | None
    start: str
    end: str
    oom_killed: bool = False
    error: str | None = None


# Cleanups (kill + remove a container, kill a process group) that the work horse runs when it
# is told to terminate; see glue.jobs.worker for who sends that signal and when.
_cleanups: list[Callable[[], None]] = []


@contextmanager
def cleanup_on_terminate(fn: Callable[[], None]) -> Iterator[None]:
    _cleanups.append(fn)
    try:
        yield
    finally:
        _cleanups.remove(fn)


def run_cleanups() -> None:
    """Newest first: the container goes before the io-dir it has mounted."""
    for fn in reversed(_cleanups):
        # The horse is exiting: try every cleanup regardless of the others.
        with contextlib.suppress(Exception):
            fn()
