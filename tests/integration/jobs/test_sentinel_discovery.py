"""Finding the primary when a sentinel's host is gone: the lab e2e (test_queue_failover.py)
showed workers waiting ~50 s after losing node1 (primary and a sentinel), because redis-py
retries each sentinel ten times before it asks the next one. A client must go on to the next
sentinel at once.

A port on loopback where nothing listens stands for the lost host: each try fails at once
here, where on a fleet it takes a connect timeout, so the cost of the retries shows as the
backoff between them (several seconds) rather than the minute a real host costs."""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

import pytest

from glue.jobs import connection
from glue.jobs.connection import Target
from tests.support.net import free_port
from tests.support.sentinel import MASTER, SentinelSet


@pytest.fixture
def group(tmp_path: Path):
    group = SentinelSet(tmp_path / "redis", secrets.token_hex(8))
    group.start()
    yield group
    group.stop()


def test_a_dead_first_sentinel_costs_no_retries(group: SentinelSet) -> None:
    gone = ("127.0.0.1", free_port())
    alive = [("127.0.0.1", int(s.rpartition(":")[2])) for s in group.sentinels]
    where = Target(group.url(), (gone, *alive), MASTER)
    started = time.monotonic()
    conn = connection.connect(where)  # probes once, through the sentinels
    assert conn.ping()
    took = time.monotonic() - started
    assert took < 0.5, f"finding the primary past a dead sentinel took {took:.1f} s"


def test_a_command_in_flight_at_the_kill_reaches_the_promoted_primary(group: SentinelSet) -> None:
    """A worker's blocking dequeue is in flight when the primary dies. redis-py reconnects such
    a command inside its retry loop, and dialled the dead primary's address for ever (the
    failover test hung on it now and then); it must ask the sentinels again."""
    alive = [("127.0.0.1", int(s.rpartition(":")[2])) for s in group.sentinels]
    conn = connection.connect(Target(group.url(), tuple(alive), MASTER), patient=True)
    got: dict[str, object] = {}
    dequeue = threading.Thread(
        target=lambda: got.update(item=conn.blpop(["work"], timeout=60)), daemon=True
    )
    dequeue.start()
    time.sleep(0.5)  # the BLPOP is on the wire
    victim = group.kill_primary()
    deadline = time.monotonic() + 60
    while group.primary_port() in (None, victim.port):
        assert time.monotonic() < deadline, "no replica was promoted"
        time.sleep(0.2)
    group.sentinel().master_for(MASTER).rpush("work", "job")
    dequeue.join(timeout=30)
    assert not dequeue.is_alive(), "the dequeue still dials the dead primary"
    assert got["item"] == (b"work", b"job")
