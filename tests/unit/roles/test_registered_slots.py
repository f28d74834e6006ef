"""The worker role's registered_slots.py counts a registration only for the process that made
it: a host rebuilt from scratch hands out the same low pids again, and a dead slot of the old
host must not count because some new process happens to have its pid."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from tests.conftest import REPO_ROOT

SPEC = importlib.util.spec_from_file_location(
    "registered_slots", REPO_ROOT / "roles" / "worker" / "files" / "registered_slots.py"
)
registered_slots = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(registered_slots)


def worker(pid: int | None, birth: datetime | None) -> SimpleNamespace:
    return SimpleNamespace(pid=pid, birth_date=birth)


def test_a_process_started_before_its_registration_counts() -> None:
    now = datetime.now(UTC)
    assert registered_slots.registered_by_it(worker(os.getpid(), now))
    # RQ's own parser gives naive UTC datetimes.
    assert registered_slots.registered_by_it(worker(os.getpid(), now.replace(tzinfo=None)))


def test_a_process_younger_than_the_registration_is_another_one() -> None:
    registered = datetime.now(UTC)
    time.sleep(1.1)
    with subprocess.Popen(["sleep", "30"]) as newcomer:
        try:
            # The newcomer holds the pid now; the registration was made before it began.
            assert not registered_slots.registered_by_it(
                worker(newcomer.pid, registered - timedelta(seconds=1))
            )
        finally:
            newcomer.kill()


@pytest.mark.parametrize("pid", [None, 0, 2**22 + 1])
def test_no_process_under_the_pid_does_not_count(pid) -> None:
    assert not registered_slots.registered_by_it(worker(pid, datetime.now(UTC)))


def test_a_registration_without_a_birth_date_does_not_count() -> None:
    assert not registered_slots.registered_by_it(worker(os.getpid(), None))


def test_the_start_time_matches_the_clock() -> None:
    with subprocess.Popen(["sleep", "30"]) as child:
        try:
            assert abs(registered_slots.started_at(child.pid) - time.time()) < 2
        finally:
            child.kill()
