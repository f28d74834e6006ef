"""What both executors share: the io-dir, the command template, the outcome of one execution,
and how a stop interrupts a running job.

The io-dir is the whole contract with a scenario: its file in inputs/, the job's settings in
configs/job.json, its answer in results/result.json, anything else it wants kept in results/
and logs/. The scenario finds the io-dir in $SIMFLEET_IO. Its output (with timestamps) is
written by the worker into a file outside the io-dir, uploaded as logs/output.log.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from glue.errors import GlueError
from glue.jobs import nofollow
from glue.jobs.sandbox import Profile

SUBDIRS = ("inputs", "configs", "results", "logs")
LOG_NAME = "output.log"
RESULT_NAME = "result.json"
TAIL_LINES = 30
TAIL_BYTES = 4096
# What a job gets of the worker's environment: proxies (in both spellings), language and
# time zone. Nothing else: the worker's own variables hold its S3 keys and Redis URL.
PASS_ENV = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "LANG",
    "LC_ALL",
    "TZ",
)
# Commands whose script argument (after -c) is shell code: values go in shell-quoted.
SHELLS = ("sh", "bash", "dash", "ash", "ksh", "zsh")

SUCCEEDED, FAILED, TIMED_OUT = "succeeded", "failed", "timed_out"


class ExecutorError(GlueError):
    """The executor could not run the scenario at all (no image, no GPU runtime, no venv)."""


def iso_utc(moment: datetime | None = None) -> str:
    """One timestamp format for both executors: 2024-05-01T12:00:00.123456Z."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class IoDir:
    """A job's folder: the io-dir handed to the scenario (`root`), and beside it what only
    the worker writes - the output log, and copies of the run's secrets for a container.

    The folder is the worker's, mode 0711: the job's account may pass through it to its
    io-dir but cannot list it, nor replace the log the worker appends to."""

    folder: Path

    @classmethod
    def create(cls, folder: Path) -> IoDir:
        """A fresh job folder; leftovers of an earlier attempt at the same job are dropped, or
        moved aside when the worker cannot delete them (files of a slot account whose job was
        killed outright)."""
        shutil.rmtree(folder, ignore_errors=True)
        if os.path.lexists(folder):
            folder.rename(folder.with_name(f"{folder.name}.stale-{os.urandom(4).hex()}"))
        folder.mkdir(mode=0o711)
        io = cls(folder)
        io.root.mkdir(mode=0o700)
        for sub in SUBDIRS:
            (io.root / sub).mkdir(mode=0o700)
        return io

    @property
    def root(self) -> Path:
        return self.folder / "io"

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
        """The output log: the worker's file, uploaded as logs/output.log."""
        return self.folder / LOG_NAME

    @property
    def private(self) -> Path:
        return self.folder / "private"

    def open_log(self) -> BinaryIO:
        """The output log, opened for appending by the worker (never through a link) before
        the job starts, and written through that one descriptor."""
        fd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        return os.fdopen(fd, "ab")

    def hand_to(self, uid: int, gid: int) -> None:
        """Let the job's account write in the io-dir. A root worker gives it the io-dir; a
        worker running jobs as another account shares it through that account's group
        (setgid folders, so what the job makes stays in the group)."""
        paths = [self.root, *(self.root / sub for sub in SUBDIRS)]
        paths += [p for p in self.root.rglob("*") if p not in paths]
        for path in paths:
            if os.getuid() == 0:
                os.lchown(path, uid, gid)
            elif uid != os.getuid():
                os.lchown(path, -1, gid)
                if path.is_dir():
                    path.chmod(0o2770)
                else:
                    path.chmod(0o640)

    def result(self) -> Any:
        """The scenario's results/result.json, None when it wrote none; never read through a
        link, nor from anything but a regular file."""
        try:
            f = nofollow.open_file(self.root, f"results/{RESULT_NAME}")
        except OSError as exc:
            raise ValueError(f"results/{RESULT_NAME} cannot be read: {exc}") from None
        if f is None:
            return None
        with f:
            try:
                return json.loads(f.read())
            except (ValueError, UnicodeDecodeError) as exc:
                raise ValueError(f"results/{RESULT_NAME} is not valid JSON: {exc}") from None

    def log_tail(self) -> str:
        """The last lines of the scenario's output, for the run summary of a failure."""
        try:
            f = nofollow.open_file(self.folder, LOG_NAME)
        except OSError:
            f = None
        if f is None:
            return ""
        with f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - TAIL_BYTES))
            text = f.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-TAIL_LINES:])

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def fill_command(command: list[str], values: dict[str, str]) -> list[str]:
    """The command with {scenario} and {io} filled in, in one pass (a value is never filled
    in again), each value one plain argv element's text; in a shell's -c script
    (`sh -c '...'`) the values go in shell-quoted, so no key can add shell code."""
    script = None
    if command and PurePosixPath(command[0]).name in SHELLS:
        for i, arg in enumerate(command[1:], 1):
            if not arg.startswith("-"):
                options = "".join(a for a in command[1:i] if not a.startswith("--"))
                script = i if "c" in options else None
                break
    pattern = re.compile("|".join(re.escape("{" + name + "}") for name in values))
    plain = {"{" + name + "}": value for name, value in values.items()}
    quoted = {key: shlex.quote(value) for key, value in plain.items()}
    return [
        pattern.sub(lambda m, table=(quoted if i == script else plain): table[m[0]], arg)
        for i, arg in enumerate(command)
    ]


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
    profile: Profile = field(default_factory=Profile)

    def gpu_ids(self, owned: tuple[str, ...], where: str) -> list[str]:
        """The GPUs this job gets: the first `gpus` of those its slot (`where`) owns, by id.
        Routing sends a GPU job only to slots owning enough; a slot that owns fewer all the
        same (its host's GPUs changed since the job was queued) cannot run it."""
        if len(owned) < self.gpus:
            raise ExecutorError(
                f"the job asks for {self.gpus} GPU(s) but slot {where} owns {len(owned)} "
                "(gpu_devices and gpus_per_slot in the worker's glue.yml)"
            )
        return list(owned[: self.gpus])

    def argv(self, io_root: str) -> list[str]:
        scenario = f"{io_root}/inputs/{self.scenario_file}"
        return fill_command(self.command, {"scenario": scenario, "io": io_root})

    def environment(self, io_root: str) -> dict[str, str]:
        """The job's whole environment but PATH and HOME, which each executor sets."""
        passed = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        return {**passed, **self.profile.env, **self.env, "SIMFLEET_IO": io_root}


@dataclass(frozen=True)
class ExecResult:
    status: str
    exit_code: int | None
    start: str
    end: str
    oom_killed: bool = False
    error: str | None = None


class Interrupted(BaseException):
    """The slot was told to stop the running job (the worker is stopping, or RQ's stop-job
    command). A BaseException, so that no `except Exception` of a scenario's path swallows
    it: it passes up through the executors' `finally` blocks, which remove the container or
    kill the slot account's processes, to the worker."""


# The slot runs its jobs in its own main thread (glue.jobs.worker). A stop arrives as a signal
# in that thread: while the slot waits for the scenario it is raised there at once; anywhere
# else (fetch, upload, Redis bookkeeping) it is kept and raised when the wait starts, so a
# stop never lands in the middle of the job's bookkeeping.
_pending: str | None = None
_raised: str | None = None
_waiting = False


def interrupt(reason: str) -> None:
    """Stop the running job for `reason`; called from a signal handler in the main thread."""
    global _pending
    _pending = reason
    if _waiting:
        _raise()


def _raise() -> None:
    global _pending, _raised, _waiting
    reason, _pending, _waiting = _pending or "", None, False
    _raised = reason
    raise Interrupted(reason)


@contextmanager
def interruptible() -> Iterator[None]:
    """Where a stop may interrupt the job: while the slot waits for its scenario."""
    global _waiting
    if _pending is not None:
        _raise()
    _waiting = True
    try:
        yield
    finally:
        _waiting = False


def dropped() -> str | None:
    """Why the current job was interrupted, if it was."""
    return _raised


def clear_interrupt() -> None:
    """A new job starts with no stop pending: a late one was for the job before."""
    global _pending, _raised
    _pending = _raised = None
