"""A run's state in Redis: its settings, its jobs, the outcome of each scenario, the reduction.

Keys (all under glue:run:<run id>):
  ""          hash: spec (the run's settings as JSON), created, keep_seconds, completed, round
  ":jobs"     hash: scenario -> RQ job id of its current attempt series
  ":outcomes" hash: scenario -> small outcome JSON (status, host, slot, times, exit code, ...);
              the full result stays in the results place
  ":reduced"  hash: constant-size reducer fields (see reducers), outcomes counted by host
              and status ("|host|<host>|<status>") and the number of notes ("|notes")
  ":notes"    list: the first NOTES_KEPT notes about results a reducer could not use
  ":attempts" hash: scenario -> earlier attempts (one JSON line each: host, status, reason)
  ":paused"   hash: slot -> the latest pause of that slot while it ran the run's jobs
  ":lock"     string: held while a python: reducer steps its state, or a rerun reopens

fold() records one outcome and applies every reducer's updates in one Lua script: O(1) per
job, atomic, and idempotent per (scenario, job id) - a retried or duplicated job is counted
once, and a late job of an attempt series a rerun replaced changes nothing. The script that
records the last outcome also stamps the run complete and sets every key to expire
keep_seconds later (glue.yml run_keep_days); a rerun makes them persistent again.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

import redis
from rq.job import Job
from rq.serializers import JSONSerializer

from glue.errors import GlueError
from glue.jobs import dispatch
from glue.jobs.executor import RESULT_NAME, SUCCEEDED, iso_utc
from glue.jobs.locations import open_location
from glue.jobs.reducers import SEP, Op, Reducer, Skip, parse, parse_all

log = logging.getLogger("glue.jobs")

KEY_PREFIX = "glue:run:"
RERUN_SUFFIX = re.compile(r"-r\d+$")
# Fields of an outcome kept in the summary's per-job list (the timeline of a report).
JOB_FIELDS = (
    "scenario", "status", "host", "slot", "start", "end", "exit_code", "attempt", "expected",
)  # fmt: skip
ERROR = "error"
HOST_FIELD = SEP + "host" + SEP
NOTES_FIELD = SEP + "notes"
NOTES_KEPT = 20
# What an outcome in Redis may carry; longer texts are cut (the full log is in the results).
MAX_ERROR = 500
MAX_LOG_TAIL = 2000
MAX_UPLOAD_NOTES = 5
DEFAULT_KEEP_SECONDS = 3 * 24 * 3600
# How long a fold waits for a Redis at maxmemory to accept it again before giving up.
FOLD_PATIENCE_SECONDS = 120
LOCK_SECONDS = 60
# Settings a resubmission of a run may change (define()).
UNBOUND = ("retries", "keep_days")

# The run is complete once every scenario has an outcome and each recorded upload is in its
# final place (unplaced ones are in KEYS[9]): marks it, and lets its keys expire.
# NOW is the ARGV index of the current time.
COMPLETE_LUA = """
local total = redis.call('HLEN', KEYS[2])
if total > 0 and redis.call('HLEN', KEYS[3]) >= total and redis.call('SCARD', KEYS[9]) == 0 then
  redis.call('HSET', KEYS[1], 'completed', ARGV[NOW])
  local keep = tonumber(redis.call('HGET', KEYS[1], 'keep_seconds'))
  if keep and keep > 0 then
    for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, keep) end
  end
end
"""

# KEYS: run, jobs, outcomes, reduced, notes, attempts, attempt numbers, paused, unplaced (the
#       attempts, numbers and paused keys only expire)
# ARGV: scenario, job id, outcome JSON, "1" when the attempt uploaded (it will be placed),
#       now, notes kept, number of notes, notes..., then (kind, field, value) per update.
# Returns 1 when recorded, 0 when the scenario already has an outcome, -1 when the job is not
# the scenario's current one (a rerun replaced it), -2 when the run does not exist.
FOLD_SCRIPT = (
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current and current ~= ARGV[2] then return -1 end
if redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[3]) == 0 then return 0 end
if ARGV[4] == '1' then redis.call('SADD', KEYS[9], ARGV[1]) end
local nnotes = tonumber(ARGV[7])
for i = 8, 7 + nnotes do
  redis.call('HINCRBY', KEYS[4], '|notes', 1)
  if redis.call('LLEN', KEYS[5]) < tonumber(ARGV[6]) then redis.call('RPUSH', KEYS[5], ARGV[i]) end
end
for i = 8 + nnotes, #ARGV, 3 do
  local kind, field, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if kind == 'add' then redis.call('HINCRBY', KEYS[4], field, value)
  elseif kind == 'addf' then redis.call('HINCRBYFLOAT', KEYS[4], field, value)
  elseif kind == 'set' then redis.call('HSET', KEYS[4], field, value)
  else
    local old = tonumber(redis.call('HGET', KEYS[4], field))
    local new = tonumber(value)
    if old == nil or (kind == 'min' and new < old) or (kind == 'max' and new > old) then
      redis.call('HSET', KEYS[4], field, value)
    end
  end
end
"""
    + COMPLETE_LUA.replace("NOW", "5")
    + """
return 1
"""
)

# KEYS: as the fold's. ARGV: scenario, now. Its recorded upload is in place; 1 if it was not.
PLACED_SCRIPT = (
    """
if redis.call('SREM', KEYS[9], ARGV[1]) == 0 then return 0 end
"""
    + COMPLETE_LUA.replace("NOW", "2")
    + """
return 1
"""
)


# KEYS: attempts, run; ARGV: scenario, one JSON line to append to its history (if the run is
# still there: a deleted run gains no keys).
APPEND_SCRIPT = """
if redis.call('EXISTS', KEYS[2]) == 0 then return end
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], old and (old .. '\\n' .. ARGV[2]) or ARGV[2])
"""


def first_series(job_id: str) -> str:
    """The job id of a scenario's first series, from any of its series' (a rerun adds -r<n>
    to it; naming's ids end in a hex digest, so the suffix is unambiguous)."""
    return RERUN_SUFFIX.sub("", job_id)


def attempt_prefix(run_id: str, scenario: str, attempt: int) -> str:
    """Where one attempt of a scenario uploads, relative to the results place."""
    return f"{run_id}/{scenario}/attempts/{attempt}"


def small(outcome: dict[str, Any]) -> dict[str, Any]:
    """The outcome as Redis keeps it: no result, no content id (the queue's history has it),
    long texts cut (the full ones are uploaded)."""
    out = {k: v for k, v in outcome.items() if k not in ("result", "content")}
    if isinstance(out.get("error"), str) and len(out["error"]) > MAX_ERROR:
        out["error"] = out["error"][: MAX_ERROR - 3] + "..."
    if isinstance(out.get("log_tail"), str) and len(out["log_tail"]) > MAX_LOG_TAIL:
        out["log_tail"] = "..." + out["log_tail"][-(MAX_LOG_TAIL - 3) :]
    notes = out.get("notes")
    if isinstance(notes, list) and len(notes) > MAX_UPLOAD_NOTES:
        out["notes"] = [*notes[:MAX_UPLOAD_NOTES], f"... and {len(notes) - MAX_UPLOAD_NOTES} more"]
    return out


def host_field(outcome: dict[str, Any]) -> str:
    """The reduced hash's counter of outcomes with this one's host and status."""
    return f"{HOST_FIELD}{outcome.get('host') or '?'}{SEP}{outcome['status']}"


def _history_entry(outcome: dict[str, Any]) -> str:
    keys = ("attempt", "status", "host", "slot", "job_id", "start", "end", "error")
    return json.dumps({k: outcome.get(k) for k in keys})


class RunState:
    def __init__(self, connection: redis.Redis, run_id: str) -> None:
        self.r = connection
        self.run_id = run_id
        self.key = KEY_PREFIX + run_id
        self.jobs_key = self.key + ":jobs"
        self.outcomes_key = self.key + ":outcomes"
        self.reduced_key = self.key + ":reduced"
        self.notes_key = self.key + ":notes"
        self.attempts_key = self.key + ":attempts"
        self.numbers_key = self.key + ":attempt-numbers"
        self.paused_key = self.key + ":paused"
        self.unplaced_key = self.key + ":unplaced"
        self.lock_key = self.key + ":lock"
        self._fold_script = connection.register_script(FOLD_SCRIPT)
        self._placed_script = connection.register_script(PLACED_SCRIPT)

    @property
    def keys(self) -> list[str]:
        """Every key of the run, in the order the fold script takes them."""
        return [
            self.key,
            self.jobs_key,
            self.outcomes_key,
            self.reduced_key,
            self.notes_key,
            self.attempts_key,
            self.numbers_key,
            self.paused_key,
            self.unplaced_key,
        ]

    def exists(self) -> bool:
        return bool(self.r.exists(self.key))

    def spec(self) -> dict[str, Any]:
        raw = self.r.hget(self.key, "spec")
        if raw is None:
            raise GlueError(f"no run {self.run_id!r} in this Redis")
        return json.loads(raw)

    def define(self, spec: dict[str, Any]) -> None:
        """Store the run's settings, or check a resubmission against them.

        A run id is bound to what its scenarios ran with and where they came from: jobs of two
        settings in one run would mix in its reduction, summary and results. Only the retries
        and keep_days (how hard to try and how long to keep, not what a scenario computes) may
        differ; any other change is refused with what changed, on one line."""
        if self.r.hsetnx(self.key, "spec", json.dumps(spec)):
            keep_days = spec.get("keep_days")
            keep = int(keep_days * 24 * 3600) if keep_days is not None else DEFAULT_KEEP_SECONDS
            self.r.hset(self.key, mapping={"created": iso_utc(), "keep_seconds": keep})
            return
        stored, spec = self.spec(), json.loads(json.dumps(spec))  # tuples compare as lists
        changed = [
            f"{name} {stored.get(name)!r} -> {spec.get(name)!r}"
            for name in sorted(stored.keys() | spec.keys())
            if name not in UNBOUND and stored.get(name) != spec.get(name)
        ]
        if changed:
            raise GlueError(
                f"run {self.run_id!r} was submitted with other settings ({'; '.join(changed)}): "
                "submit it with its own settings, or use a new run id"
            )

    def register(self, job_ids: dict[str, str]) -> None:
        """List scenarios in the run; new ones make a completed run incomplete again (and its
        keys persistent until it completes again)."""
        if job_ids and self.r.hset(self.jobs_key, mapping=job_ids):
            self._reopened()

    def _reopened(self, pipe=None) -> None:
        target = pipe if pipe is not None else self.r.pipeline()
        target.hdel(self.key, "completed")
        for key in self.keys:
            target.persist(key)
        if pipe is None:
            target.execute()

    def job_ids(self, first: dict[str, str]) -> dict[str, str]:
        """Each scenario's current job id: the one registered (a rerun's), else its id in
        `first` (the id of its first series, as naming makes it)."""
        scenarios = list(first)
        if not scenarios or not self.r.exists(self.jobs_key):
            return dict(first)  # a new run: nothing registered to look up
        known = self.r.hmget(self.jobs_key, scenarios)
        return {s: j.decode() if j else first[s] for s, j in zip(scenarios, known, strict=True)}

    def jobs(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.r.hgetall(self.jobs_key).items()}

    def folded(self) -> set[str]:
        return {k.decode() for k in self.r.hkeys(self.outcomes_key)}

    def outcomes(self) -> dict[str, dict[str, Any]]:
        return {k.decode(): json.loads(v) for k, v in self.r.hgetall(self.outcomes_key).items()}

    def progress(self) -> tuple[int, int]:
        """(scenarios done, scenarios in the run). A scenario is done once its outcome is
        recorded and its upload is in the final place, so whoever waits for the run finds
        every result where the summary says it is."""
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hlen(self.outcomes_key)
            pipe.scard(self.unplaced_key)
            pipe.hlen(self.jobs_key)
            recorded, unplaced, total = pipe.execute()
        return recorded - unplaced, total

    def unplaced_outcome(self, scenario: str) -> dict[str, Any] | None:
        """The scenario's recorded outcome if its upload is not in place yet (its slot died in
        between, or is still copying), else None."""
        if not self.r.sismember(self.unplaced_key, scenario):
            return None
        raw = self.r.hget(self.outcomes_key, scenario)
        return json.loads(raw) if raw else None

    def placed(self, scenario: str) -> None:
        """The scenario's recorded upload is in its final place (or could not be copied, and
        stays in its attempt's own place): it counts as done."""
        self._placed_script(keys=self.keys, args=[scenario, iso_utc()])

    def complete(self) -> bool:
        done, total = self.progress()
        return total > 0 and done >= total

    def _lock(self):
        return self.r.lock(self.lock_key, timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS)

    def fold(self, outcome: dict[str, Any], result: Any, reduce: list[str]) -> bool:
        """Record one scenario's outcome and fold its result; False if it was already folded
        (or its job is no longer the scenario's current one).

        Never drops an outcome for a reducer's sake: when the reducers cannot take it (a
        python: module missing on this host, a state JSON cannot hold), the scenario is
        recorded as `error` with the reason. A Redis at maxmemory is waited out for
        FOLD_PATIENCE_SECONDS, then the error is raised (and logged by the caller)."""
        deadline = time.monotonic() + FOLD_PATIENCE_SECONDS
        pause = 0.2
        while True:
            try:
                return self._fold_once(outcome, result, reduce)
            except redis.exceptions.OutOfMemoryError as exc:
                # Refused at the script's first write, so nothing of this fold is in Redis.
                if time.monotonic() > deadline:
                    raise
                log.warning(
                    "run %s: Redis refuses the outcome of %s (%s); retrying in %.1f s",
                    self.run_id,
                    outcome["scenario"],
                    exc,
                    pause,
                )
                time.sleep(pause)
                pause = min(pause * 2, 10)

    def note_pause(self, slot: str, line: str) -> None:
        self.r.hset(self.paused_key, slot, line)

    def pauses(self) -> list[str]:
        """One line per slot that paused itself during the run (glue.jobs.pause)."""
        raw = self.r.hgetall(self.paused_key)
        return [raw[k].decode() for k in sorted(raw)]

    def _fold_once(self, outcome: dict[str, Any], result: Any, reduce: list[str]) -> bool:
        try:
            reducers = parse_all(reduce)
        except GlueError as exc:
            return self._record_error(outcome, reduce, f"{type(exc).__name__}: {exc}")
        stateful = outcome["status"] == SUCCEEDED and any(r.step for r in reducers)
        with self._lock() if stateful else nullcontext():
            try:
                ops, notes = self._plan(reducers, outcome, result)
            except Exception as exc:  # whatever a user's reducer raises
                return self._record_error(outcome, reduce, f"{type(exc).__name__}: {exc}")
            return self._record(outcome, ops, notes)

    def _plan(
        self, reducers: list[Reducer], outcome: dict[str, Any], result: Any
    ) -> tuple[list[Op], list[str]]:
        """Every reducer's updates for one outcome, and notes on results they could not use."""
        scenario, status = outcome["scenario"], outcome["status"]
        ops: list[Op] = []
        notes: list[str] = []
        for reducer in reducers:
            try:
                if reducer.step is None:
                    ops += reducer.ops(status, result)
                elif status == SUCCEEDED:
                    raw = self.r.hget(self.reduced_key, reducer.spec)
                    state = json.loads(raw) if raw is not None else None
                    try:
                        state = reducer.step(state, result)
                    except Exception as exc:  # a user's function
                        raise Skip(f"{type(exc).__name__}: {exc}") from None
                    # Not JSON (a set, a numpy number): the caller records the job as error.
                    ops.append(Op("set", reducer.spec, json.dumps(state, allow_nan=False)))
            except Skip as why:
                notes.append(f"{reducer.spec} skipped {scenario}: {why}")
        return ops, notes

    def _record_error(self, outcome: dict[str, Any], reduce: list[str], why: str) -> bool:
        """Record the outcome as `error`: only `count` takes it (value reducers see successes)."""
        log.error("run %s: cannot fold %s: %s", self.run_id, outcome["scenario"], why)
        was = outcome["status"]
        errored = {
            **outcome,
            "status": ERROR,
            "error": f"its {was} outcome could not be folded: {why}",
        }
        ops = [op for spec in reduce if spec == "count" for op in parse(spec).ops(ERROR, None)]
        return self._record(errored, ops, [])

    def _record(self, outcome: dict[str, Any], ops: list[Op], notes: list[str]) -> bool:
        args: list[Any] = [
            outcome["scenario"],
            outcome.get("job_id") or "",
            json.dumps(small(outcome)),
            "1" if outcome.get("uploaded") else "0",
            iso_utc(),
            NOTES_KEPT,
            len(notes),
            *notes,
        ]
        for op in [*ops, Op("add", host_field(outcome), "1")]:
            args += [op.kind, op.field, op.value]
        answer = self._fold_script(keys=self.keys, args=args)
        if answer == -2:
            log.warning("run %s no longer exists: outcome of %s dropped", self.run_id, args[0])
        return answer == 1

    def note_attempt(self, outcome: dict[str, Any]) -> None:
        """Keep an attempt that is not the scenario's last (it will be retried) in its history."""
        self._append_history({outcome["scenario"]: _history_entry(outcome)})

    def _append_history(self, entries: dict[str, str], pipe=None) -> None:
        target = pipe if pipe is not None else self.r
        for scenario, entry in entries.items():
            target.eval(APPEND_SCRIPT, 2, self.attempts_key, self.key, scenario, entry)

    def history(self, scenario: str) -> list[dict[str, Any]]:
        raw = self.r.hget(self.attempts_key, scenario)
        return [json.loads(line) for line in raw.decode().splitlines()] if raw else []

    def next_attempt(self, scenario: str) -> int:
        """A number no other attempt of the scenario has, across retries and reruns, and also
        when a failover left two copies of one job running at once: each attempt uploads under
        its number and works in a folder and container named by it."""
        return int(self.r.hincrby(self.numbers_key, scenario, 1))

    def reopen(self, statuses: set[str]) -> dict[str, str]:
        """Take back the outcomes of every scenario in one of `statuses`, so a submit queues
        them again under new job ids; returns {scenario: new job id}.

        Each taken-back outcome joins the scenario's attempt history, `count` is decremented
        (value reducers never saw a non-succeeded outcome, and succeeded ones are not
        reopened), and the run's keys stop expiring until it completes again."""
        if SUCCEEDED in statuses:
            raise GlueError("succeeded scenarios are not rerun: use a new run id to run them again")
        # Only count saw these outcomes; a python: reducer need not import here.
        counters = [parse(spec) for spec in self.spec()["reduce"] if spec == "count"]
        with self._lock():
            chosen = {s: o for s, o in self.outcomes().items() if o["status"] in statuses}
            if not chosen:
                return {}
            round_ = self.r.hincrby(self.key, "round", 1)
            current = self.jobs()
            ids = {s: f"{first_series(current[s])}-r{round_}" for s in chosen}
            with self.r.pipeline() as pipe:
                self._append_history({s: _history_entry(o) for s, o in chosen.items()}, pipe)
                for outcome in chosen.values():
                    status = outcome["status"]
                    pipe.hincrby(self.reduced_key, host_field(outcome), -1)
                    for reducer in counters:
                        for op in reducer.reopen(status):
                            pipe.hincrby(self.reduced_key, op.field, int(op.value))
                pipe.hdel(self.outcomes_key, *chosen)
                pipe.srem(self.unplaced_key, *chosen)
                pipe.hset(self.jobs_key, mapping=ids)
                self._reopened(pipe)
                pipe.execute()
        return ids

    def status_counts(self) -> dict[str, int]:
        """Outcomes by status, from the counters the folds keep (no scan of the outcomes)."""
        counts: Counter[str] = Counter()
        for status, _, n in self.host_counts():
            counts[status] += n
        return dict(sorted(counts.items()))

    def host_counts(self) -> list[tuple[str, str, int]]:
        """(status, host, number) of the recorded outcomes, from the folds' counters: what
        `glue status` shows of a big run without reading its outcomes."""
        rows = []
        for k, v in self.r.hgetall(self.reduced_key).items():
            name = k.decode()
            if name.startswith(HOST_FIELD) and int(v):
                host, _, status = name[len(HOST_FIELD) :].rpartition(SEP)
                rows.append((status, host, int(v)))
        return rows

    def _parts(self, results_url: str, s3_endpoint_url: str | None) -> list[Any]:
        """concat's parts: each succeeded scenario's result in scenario order, read from the
        upload of its recorded attempt (there before its fold)."""
        results = open_location(results_url, s3_endpoint_url)
        outcomes = self.outcomes()
        parts = []
        for scenario in sorted(outcomes):
            outcome = outcomes[scenario]
            if outcome["status"] == SUCCEEDED:
                prefix = attempt_prefix(self.run_id, scenario, outcome["attempt"])
                raw = results.read_bytes(f"{prefix}/results/{RESULT_NAME}")
                parts.append(json.loads(raw) if raw else None)
        return parts

    def reduced(self, s3_endpoint_url: str | None = None) -> tuple[dict[str, Any], list[str], int]:
        """The value of each reducer so far, the notes about results it could not use (the
        first NOTES_KEPT, then how many more) and how many notes there are in all.
        concat's value is assembled here, from the results place (at `s3_endpoint_url`)."""
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.reduced_key)
            pipe.lrange(self.notes_key, 0, -1)
            raw, kept = pipe.execute()
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        spec = self.spec()
        values = {}
        for reducer in parse_all(spec["reduce"]):
            parts = functools.partial(self._parts, spec["results"], s3_endpoint_url)
            values[reducer.spec] = reducer.final(fields, parts)
        notes = [n.decode() for n in kept]
        total = int(fields.get(NOTES_FIELD, 0))
        if total > len(notes):
            notes.append(f"... and {total - len(notes)} more")
        return values, notes, total

    def attempts(self) -> dict[str, list[dict[str, Any]]]:
        """Every scenario with earlier attempts: those attempts, oldest first."""
        out = {}
        for k, v in self.r.hgetall(self.attempts_key).items():
            out[k.decode()] = [json.loads(line) for line in v.decode().splitlines()]
        return out

    def summary(self, s3_endpoint_url: str | None = None) -> dict[str, Any]:
        """The run summary: counts by status and per host, the reduced value, the failures,
        and each retried or rerun scenario's earlier attempts (host and reason)."""
        spec = self.spec()
        outcomes = self.outcomes()
        total = self.r.hlen(self.jobs_key)
        values, notes, notes_total = self.reduced(s3_endpoint_url)
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
            "reduce_notes_total": notes_total,
            "started": min(starts, default=None),
            "ended": max(ends, default=None),
            "failures": [o for o in ordered if o["status"] != SUCCEEDED],
            "dispatch": dispatch.summarize(ordered),
            "jobs": [{k: o.get(k) for k in JOB_FIELDS} for o in ordered],
            "paused_slots": self.pauses(),
            "attempts": dict(sorted(self.attempts().items())),
        }

    def info(self) -> dict[str, Any]:
        """One line of `glue runs`: id, created, state, counts and bytes in Redis."""
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hmget(self.key, ["created", "completed"])
            pipe.hlen(self.jobs_key)
            pipe.hlen(self.outcomes_key)
            for key in self.keys:
                pipe.memory_usage(key, samples=0)
            (created, completed), total, done, *sizes = pipe.execute()
        state = "complete" if completed else ("running" if total else "empty")
        return {
            "run_id": self.run_id,
            "created": created.decode() if created else None,
            "completed": completed.decode() if completed else None,
            "state": state,
            "total": total,
            "done": done,
            "counts": self.status_counts(),
            "redis_bytes": sum(s or 0 for s in sizes),
        }

    def delete(self) -> int:
        """Remove the run's keys and its RQ jobs (queued ones leave their queues); how many
        RQ jobs were removed."""
        rounds = int(self.r.hget(self.key, "round") or 0)
        ids = set()
        for job_id in self.jobs().values():
            first = first_series(job_id)
            ids |= {first, *(f"{first}-r{n}" for n in range(1, rounds + 1))}
        removed = 0
        # The run's keys go first, so a job finishing meanwhile finds no run and folds nothing.
        self.r.delete(*self.keys, self.lock_key)
        for job in Job.fetch_many(sorted(ids), self.r, serializer=JSONSerializer):
            if job is not None:
                job.delete()
                removed += 1
        return removed


def run_ids(conn: redis.Redis) -> Iterator[str]:
    """Every run this Redis holds (its settings hash), sorted."""
    found = set()
    for key in conn.scan_iter(match=KEY_PREFIX + "*", count=1000):
        rest = key.decode()[len(KEY_PREFIX) :]
        if ":" not in rest:
            found.add(rest)
    yield from sorted(found)
