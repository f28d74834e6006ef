"""A run's state in Redis: its settings, its jobs, the outcome of each scenario, the reduction.

Keys (all under glue:run:<run id>):
  ""          hash: spec (the run's settings as JSON), created
  ":jobs"     hash: scenario -> RQ job id, every scenario ever submitted to the run
  ":outcomes" hash: scenario -> outcome JSON (status, host, slot, times, exit code, ...)
  ":reduced"  string: {"states": {reducer spec: state}, "notes": [...]}
  ":paused"   hash: slot -> the latest pause of that slot while it ran the run's jobs

fold() adds one outcome and steps every reducer in a single optimistic transaction (WATCH /
MULTI / EXEC, retried on conflict). The outcomes hash doubles as the record of what was
folded, so folding the same scenario twice - a retried or duplicated job - changes nothing,
and jobs finishing at the same moment on different hosts never lose each other's update.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import redis
from redis.exceptions import WatchError

from glue.errors import GlueError
from glue.jobs.executor import SUCCEEDED, iso_utc
from glue.jobs.reducers import Skip, parse_all

KEY_PREFIX = "glue:run:"
# Fields of an outcome kept in the summary's per-job list (the timeline of a report).
JOB_FIELDS = ("scenario", "status", "host", "slot", "start", "end", "exit_code", "attempt")


class RunState:
    def __init__(self, connection: redis.Redis, run_id: str) -> None:
        self.r = connection
        self.run_id = run_id
        self.key = KEY_PREFIX + run_id
        self.jobs_key = self.key + ":jobs"
        self.outcomes_key = self.key + ":outcomes"
        self.reduced_key = self.key + ":reduced"
        self.paused_key = self.key + ":paused"

    def exists(self) -> bool:
        return bool(self.r.exists(self.key))

    def spec(self) -> dict[str, Any]:
        raw = self.r.hget(self.key, "spec")
        if raw is None:
            raise GlueError(f"no run {self.run_id!r} in this Redis")
        return json.loads(raw)

    def define(self, spec: dict[str, Any]) -> None:
        """Store the run's settings; a resubmission must keep its reducers and results place,
        since the reduction so far and the summary depend on them."""
        if self.r.hsetnx(self.key, "spec", json.dumps(spec)):
            self.r.hset(self.key, "created", iso_utc())
            return
        stored = self.spec()
        for name in ("reduce", "results"):
            if stored[name] != spec[name]:
                raise GlueError(
                    f"run {self.run_id!r} was submitted with {name} {stored[name]!r}, not "
                    f"{spec[name]!r}: keep it, or use a new run id"
                )

    def register(self, job_ids: dict[str, str]) -> None:
        if job_ids:
            self.r.hset(self.jobs_key, mapping=job_ids)

    def jobs(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.r.hgetall(self.jobs_key).items()}

    def folded(self) -> set[str]:
        return {k.decode() for k in self.r.hkeys(self.outcomes_key)}

    def outcomes(self) -> dict[str, dict[str, Any]]:
        return {k.decode(): json.loads(v) for k, v in self.r.hgetall(self.outcomes_key).items()}

    def progress(self) -> tuple[int, int]:
        """(scenarios with an outcome, scenarios in the run)."""
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hlen(self.outcomes_key)
            pipe.hlen(self.jobs_key)
            done, total = pipe.execute()
        return done, total

    def complete(self) -> bool:
        done, total = self.progress()
        return total > 0 and done >= total

    def fold(self, outcome: dict[str, Any], result: Any, reduce: list[str]) -> bool:
        """Record one scenario's outcome and fold its result; False if it was already folded.

        `reduce` is the run's reducer specs, as every job carries them (define() made sure
        they are the run's)."""
        scenario = outcome["scenario"]
        reducers = parse_all(reduce)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(self.outcomes_key, self.reduced_key)
                    if pipe.hexists(self.outcomes_key, scenario):
                        pipe.unwatch()
                        return False
                    raw = pipe.get(self.reduced_key)
                    reduced = json.loads(raw) if raw else {"states": {}, "notes": []}
                    for reducer in reducers:
                        state = reduced["states"].get(reducer.spec, reducer.initial())
                        try:
                            state = reducer.step(state, scenario, outcome["status"], result)
                        except Exception as exc:  # a user's reducer: note it, keep the run going
                            why = exc if isinstance(exc, Skip) else f"{type(exc).__name__}: {exc}"
                            reduced["notes"].append(f"{reducer.spec} skipped {scenario}: {why}")
                        reduced["states"][reducer.spec] = state
                    pipe.multi()
                    pipe.hset(self.outcomes_key, scenario, json.dumps(outcome))
                    pipe.set(self.reduced_key, json.dumps(reduced))
                    pipe.execute()
                    return True
                except WatchError:
                    continue

    def note_pause(self, slot: str, line: str) -> None:
        self.r.hset(self.paused_key, slot, line)

    def pauses(self) -> list[str]:
        """One line per slot that paused itself during the run (glue.jobs.pause)."""
        raw = self.r.hgetall(self.paused_key)
        return [raw[k].decode() for k in sorted(raw)]

    def reduced(self) -> tuple[dict[str, Any], list[str]]:
        """The value of each reducer so far, and the notes about results it could not use."""
        raw = self.r.get(self.reduced_key)
        reduced = json.loads(raw) if raw else {"states": {}, "notes": []}
        values = {}
        for reducer in parse_all(self.spec()["reduce"]):
            state = reduced["states"].get(reducer.spec, reducer.initial())
            values[reducer.spec] = reducer.final(state)
        return values, reduced["notes"]

    def summary(self) -> dict[str, Any]:
        """The run summary: counts by status and per host, the reduced value, the failures."""
        spec = self.spec()
        outcomes = self.outcomes()
        total = self.r.hlen(self.jobs_key)
        values, notes = self.reduced()
        hosts: dict[str, Counter] = {}
        for outcome in outcomes.values():
            hosts.setdefault(outcome.get("host") or "?", Counter())[outcome["status"]] += 1
        ordered = [outcomes[s] for s in sorted(outcomes)]
        starts = [o["start"] for o in ordered if o.get("start")]
        ends = [o["end"] for o in ordered if o.get("end")]
        return {
            "run_id": self.run_id,
            "source": spec["source"],
            "results": spec["results"],
            "total": total,
            "done": len(outcomes),
            "complete": total > 0 and len(outcomes) >= total,
            "counts": dict(sorted(Counter(o["status"] for o in ordered).items())),
            "hosts": {h: dict(sorted(c.items())) for h, c in sorted(hosts.items())},
            "reduced": values,
            "reduce_notes": notes,
            "started": min(starts, default=None),
            "ended": max(ends, default=None),
            "failures": [o for o in ordered if o["status"] != SUCCEEDED],
            "jobs": [{k: o.get(k) for k in JOB_FIELDS} for o in ordered],
            "paused_slots": self.pauses(),
        }
