"""Slots are forked from the pool, which talks to Docker first (it removes orphaned
containers before it starts them). A slot that kept the pool's Docker client read answers
from a socket its siblings read too: one slot waited 30 s on a container list whose answer
another had taken, and a task expression meant to run three tasks at once ran two."""

from __future__ import annotations

import multiprocessing

from glue.jobs import docker_executor, locations

SLOTS = 3
CALLS = 40


def _slot_talks_to_docker(_: int) -> tuple[int, int]:
    """In a forked child: which client object it uses, and how many answers it got."""
    engine = docker_executor.client()
    answers = sum(1 for _ in range(CALLS) if engine.version()["ApiVersion"])
    return id(engine), answers


def test_each_forked_slot_uses_docker_on_a_connection_of_its_own() -> None:
    pool_client = docker_executor.client()
    pool_client.ping()  # the pool's kept-alive connection, which the slots inherit
    with multiprocessing.get_context("fork").Pool(SLOTS) as slots:
        answers = slots.map_async(_slot_talks_to_docker, range(SLOTS)).get(timeout=60)
    assert all(client_id != id(pool_client) for client_id, _ in answers)
    assert [n for _, n in answers] == [CALLS] * SLOTS
    assert pool_client.ping()  # and the pool's own connection still answers it


def _s3_client_id(_: int) -> int:
    return id(locations.shared_client("http://127.0.0.1:9"))


def test_a_forked_slot_makes_its_own_s3_client() -> None:
    pool_client = locations.shared_client("http://127.0.0.1:9")  # made, never used here
    assert locations.shared_client("http://127.0.0.1:9") is pool_client  # kept in a process
    with multiprocessing.get_context("fork").Pool(1) as slot:
        assert slot.map(_s3_client_id, [0]) != [id(pool_client)]
