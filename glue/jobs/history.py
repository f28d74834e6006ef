"""How long each scenario took the last time it ran, kept per queue, keyed by its content.

The key is the scenario's content id (size and ETag or sha256, see locations.content_ids), not
its name: a renamed scenario keeps its history, a changed one starts without. `glue run` reads
the history to queue the longest scenarios first; each job that succeeds writes its duration.
A queue with no history has nothing to order by: `glue run` then leaves a local folder's content
ids (a read of every file) to the jobs, each of which hashes its own fetched copy as it runs.

One Redis hash per queue, `glue:history:<queue>`: content id -> seconds. It is bounded (past
MAX_ENTRIES, random entries go, as Redis's own allkeys-random eviction would) and expires
KEEP_SECONDS after the queue's last finished job, so an idle fleet does not keep it forever.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import redis

KEY_PREFIX = "glue:history:"
MAX_ENTRIES = 200_000  # about 100 bytes each in Redis
KEEP_SECONDS = 30 * 24 * 3600


def key(queue: str) -> str:
    return KEY_PREFIX + queue


def duration_of(outcome: dict[str, Any]) -> float | None:
    """Seconds between the outcome's start and end (the executor's own times), if both are
    known."""
    start, end = outcome.get("start"), outcome.get("end")
    if not start or not end:
        return None
    seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return seconds if seconds >= 0 else None


def record(conn: redis.Redis, queue: str, content: str, seconds: float) -> None:
    """Note one finished job's duration: one round trip, plus a trim once in a long while."""
    with conn.pipeline(transaction=False) as pipe:
        pipe.hset(key(queue), content, f"{seconds:.3f}")
        pipe.expire(key(queue), KEEP_SECONDS)
        pipe.hlen(key(queue))
        size = pipe.execute()[-1]
    if size > MAX_ENTRIES:
        # A tenth at once, so the trim is rare: a random choice needs no age per entry.
        extra = conn.hrandfield(key(queue), size - MAX_ENTRIES + MAX_ENTRIES // 10)
        if extra:
            conn.hdel(key(queue), *extra)


def recorded(conn: redis.Redis, queue: str) -> bool:
    """Whether the queue has any history: without one, content ids cannot order a run."""
    return bool(conn.hlen(key(queue)))


def note(conn: redis.Redis, queue: str, content: str | None, outcome: dict[str, Any]) -> None:
    """Record a succeeded job's duration under its scenario's content id, if it has one."""
    seconds = duration_of(outcome)
    if content and seconds is not None:
        record(conn, queue, content, seconds)


def lookup(conn: redis.Redis, queue: str, contents: Iterable[str]) -> dict[str, float]:
    """The recorded seconds of each content id that has any (one HMGET)."""
    wanted = list(dict.fromkeys(contents))
    if not wanted:
        return {}
    found = {}
    for content, raw in zip(wanted, conn.hmget(key(queue), wanted), strict=True):
        if raw is not None:
            seconds = float(raw)
            if math.isfinite(seconds):
                found[content] = seconds
    return found
