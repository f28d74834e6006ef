"""Killing a slot account's processes reaches the job's own PID namespaces, and no container
elsewhere on the host that happens to run with the same uid."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from glue.jobs.process_executor import Account, kill_account
from tests.integration.jobs.test_run import alive

UID = 3_999_999
AS_ACCOUNT = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups"]


def child_of(parent: int, timeout: float = 10) -> int:
    """The pid of `parent`'s child (unshare's forked child, in its new namespace)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines())
            except (OSError, ValueError):
                continue
            if fields["PPid"] == str(parent) and fields["Uid"].split()[0] == str(UID):
                return int(status.parent.name)
        time.sleep(0.05)
    pytest.fail(f"no child of {parent} running as {UID}")


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to run processes as another uid")
def test_the_account_is_killed_in_its_own_namespaces_and_a_stranger_is_left() -> None:
    account = Account("test-slot", UID, UID)
    # A stranger: same uid, but in a PID namespace of its own that root made (a container).
    stranger = subprocess.Popen(["unshare", "--pid", "--fork", *AS_ACCOUNT, "sleep", "60"])
    inner = child_of(stranger.pid)
    try:
        kill_account(account)
        assert alive(inner)
    finally:
        os.kill(inner, signal.SIGKILL)  # the init of its namespace: its parent's end is not
        stranger.wait()
    # The job's own: a process of the account that made a user and PID namespace itself.
    job = subprocess.Popen(
        [*AS_ACCOUNT, "unshare", "--user", "--map-root-user", "--pid", "--fork", "sleep", "60"]
    )
    inner = child_of(job.pid)
    try:
        kill_account(account)
        assert not alive(inner)
        assert job.wait(timeout=10) != 0
    finally:
        job.kill()
        job.wait()
