"""Fixtures of the job-engine tests: a real Redis, real `glue worker` processes, the executor
image, and helpers to run glue commands and wait for runs."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout, suppress
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest
import redis

from glue.cli import main as cli
from glue.jobs.docker_executor import LABEL
from glue.jobs.runstate import RunState
from glue.lab.images import Builder
from tests.support.accounts import slot_accounts
from tests.support.redis_server import RedisServer, redis_server  # noqa: F401

REPO = Path(__file__).resolve().parents[3]
WAIT_SECONDS = 120
# Short heartbeats and maintenance: a killed worker's job comes back in about 4 s, not a minute.
FAST = {"GLUE_HEARTBEAT": "1", "GLUE_MAINTENANCE_INTERVAL": "1"}


def wait_for(what: str, check: Callable[[], object], timeout: float = WAIT_SECONDS) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Workers:
    """One `glue worker` process (a pool of slots) in a process group of its own."""

    proc: subprocess.Popen
    log: Path
    stopped: bool = False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def tail(self) -> str:
        return "\n".join(self.log.read_text().splitlines()[-40:])


@dataclass
class Engine:
    """A queue of its own on the session's Redis, with the GLUE_* settings that point at it."""

    env: dict[str, str]
    conn: redis.Redis
    tmp: Path
    workers: list[Workers] = field(default_factory=list)

    def glue(self, *args: str) -> tuple[int, str, str]:
        """Run a glue command in this process; returns (exit code, stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = cli.main(list(args))
        return code, out.getvalue(), err.getvalue()

    def start_workers(self, *args: str) -> Workers:
        log = self.tmp / f"worker-{len(self.workers)}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "glue", "worker", *args],
            env=self.env,
            cwd=REPO,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        workers = Workers(proc, log)
        self.workers.append(workers)
        return workers

    def run_id(self, name: str) -> str:
        """A run id no other test of the session uses (they share one Redis)."""
        return f"{name}-{self.env['GLUE_QUEUE']}"

    def state(self, run_id: str) -> RunState:
        return RunState(self.conn, run_id)

    def wait(self, what: str, check: Callable[[], object], timeout: float = WAIT_SECONDS):
        """wait_for, failing at once (with the workers' logs) if a worker died on its own."""

        def checked() -> object:
            if any(not w.stopped and w.proc.poll() is not None for w in self.workers):
                pytest.fail("a glue worker exited:\n" + "\n".join(w.tail() for w in self.workers))
            return check()

        return wait_for(what, checked, timeout)

    def wait_complete(self, run_id: str, timeout: float = WAIT_SECONDS) -> dict:
        state = self.state(run_id)
        self.wait(f"run {run_id} to complete", state.complete, timeout)
        return state.summary()


SLOT_ACCOUNTS = 4


@pytest.fixture(scope="session")
def job_users() -> Iterator[str | None]:
    """A job_users pattern with one fresh unprivileged account per slot (1-4), as the worker
    role makes them; removed after the session. Making accounts needs root: otherwise None,
    and process jobs fail saying that job_users is missing."""
    if os.getuid() != 0:
        yield None
        return
    with slot_accounts(SLOT_ACCOUNTS) as pattern:
        yield pattern


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder every account may write in (pytest's own tmp_path is root's alone): for
    what a job running as a slot account must reach, such as a venv or a folder of pids."""
    path = Path(tempfile.mkdtemp(prefix="glue-test-"))
    path.chmod(0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def engine(
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
    shared_tmp: Path,
    job_users: str | None,
    monkeypatch,
) -> Iterator[Engine]:
    settings = {
        "GLUE_REDIS_URL": redis_server.url(),
        "GLUE_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
        # Outside pytest's root-only tmp_path, so the slot accounts can reach their io-dirs.
        "GLUE_WORKDIR": str(shared_tmp / "work"),
        **({"GLUE_JOB_USERS": job_users} if job_users else {}),
        **FAST,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GLUE_CONFIG", raising=False)
    # Workers import test reducers (python:tests...) from the repository.
    env = {**os.environ, **settings, "PYTHONPATH": str(REPO)}
    conn = redis.Redis.from_url(redis_server.url())
    eng = Engine(env, conn, tmp_path)
    try:
        yield eng
    finally:
        for workers in eng.workers:
            workers.stop()
        conn.close()


@pytest.fixture(scope="session")
def executor_image() -> str:
    """simfleet/executor built from the local base (skipped by the builder when up to date)."""
    return Builder(log=lambda message: None).build("executor")


def containers_of(run_id: str) -> list:
    """Job containers of a run, running or not. Each listed one is inspected; one removed in
    between (its job ended) is left out, where docker-py's list() would raise NotFound."""
    client = docker.from_env()
    found = []
    for sparse in client.containers.list(
        all=True, sparse=True, filters={"label": f"{LABEL}.run={run_id}"}
    ):
        with suppress(docker.errors.NotFound):
            found.append(client.containers.get(sparse.id))
    return found


def read_json(path: Path):
    return json.loads(path.read_text())
