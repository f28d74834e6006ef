"""A synthetic finished run of many jobs, written into a real Redis the way workers leave it
(the run's spec, its jobs, one outcome per scenario, a reduction), for what must stay fast at
100,000 jobs: `glue report` and `glue status`. Folding 100,000 outcomes one by one would
take minutes and measure the fold, not the reader; the records are the same."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import redis

from glue.jobs import naming, runstate
from glue.jobs.reducers import parse
from glue.jobs.runstate import RunState

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CHUNK = 5000


def count_fields(status: str) -> list[str]:
    """The `count` reducer's fields an outcome of this status adds to."""
    return [op.field for op in parse("count").ops(status, None)]


def iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def fill(
    conn: redis.Redis, run_id: str, jobs: int, hosts: int = 8, slots: int = 4, seed: int = 7
) -> dict[str, int]:
    """Write a complete run of `jobs` scenarios over hosts x slots lanes, about 1 % failed,
    with the counters folds keep for `glue status`; returns the counts by status."""
    rng = random.Random(seed)
    state = RunState(conn, run_id)
    state.define(
        {"run_id": run_id, "source": "/data/sweep", "results": "/data/results", "reduce": ["count"]}
    )
    clock = [0.0] * (hosts * slots)
    counts: dict[str, int] = {}
    counters: dict[str, int] = {}
    for first in range(0, jobs, CHUNK):
        ids, outcomes = {}, {}
        for n in range(first, min(first + CHUNK, jobs)):
            scenario = f"sweep/p{n // 1000:03d}/case-{n:06d}.py"
            lane = rng.randrange(len(clock))
            start = clock[lane] + rng.uniform(0.005, 0.08)
            end = start + rng.uniform(0.2, 4.0)
            clock[lane] = end
            ended = "failed" if rng.random() < 0.01 else "succeeded"
            counts[ended] = counts.get(ended, 0) + 1
            ids[scenario] = naming.job_id(run_id, "/data/sweep", scenario)
            outcome = {
                "scenario": scenario,
                "job_id": ids[scenario],
                "status": ended,
                "host": f"node{lane // slots + 1}",
                "slot": lane % slots + 1,
                "worker": f"glue-node{lane // slots + 1}-{lane % slots + 1}",
                "attempt": 1,
                "start": iso(start),
                "end": iso(end),
                "exit_code": 0 if ended == "succeeded" else 1,
                "oom_killed": False,
                "error": None if ended == "succeeded" else "exit code 1",
                "expected": round(end - start, 3) if n % 2 else None,
            }
            for field in (runstate.host_field(outcome), *count_fields(ended)):
                counters[field] = counters.get(field, 0) + 1
            if ended != "succeeded":
                outcome["log_tail"] = "Traceback (most recent call last):\n  ...\nValueError\n"
            outcomes[scenario] = json.dumps(outcome)
        state.register(ids)
        conn.hset(state.outcomes_key, mapping=outcomes)
    conn.hset(state.reduced_key, mapping=counters)
    return counts
