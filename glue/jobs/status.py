"""Where each scenario of a run stands: its outcome if it has one, else its RQ job's state.

An outcome is final (succeeded, failed, timed_out, lost, stopped, error); before that a
scenario is queued, running, scheduled (waiting to be retried) or deferred, as RQ says. A job
that Redis no longer knows and that has no outcome shows as "missing": submitting the run
again, or `glue wait`, queues it.

Outcomes are counted by host and status in the same atomic step that records them
(RunState.host_counts), so status of a finished run of 100,000 jobs reads a few small keys,
not every outcome. The counts are used only when they add up to the outcomes recorded (a run
folded by an older glue has none, and is read whole).

queue_health() says which Redis is the queue's primary and how far each replica is behind;
run_queue() which RQ queue the run's jobs wait in (glue.jobs.routing) and how many live slots
take from it, so a run nothing can take shows why it does not move; render_paused() lists
the fleet's slots paused for executor errors (glue.jobs.pause).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import redis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from glue.jobs import routing
from glue.jobs.connection import primary_address, queue
from glue.jobs.pause import Pause
from glue.jobs.runstate import RunState

RQ_NAMES = {JobStatus.STARTED: "running"}
# A replica this many seconds or more since its last acknowledgement is not in sync.
SYNC_LAG_SECONDS = 2


def queue_health(conn: redis.Redis) -> dict:
    """The primary's address and each replica's state, from the primary's INFO replication."""
    info = conn.info("replication")
    offset = info.get("master_repl_offset", 0)
    replicas = []
    for n in range(info.get("connected_slaves", 0)):
        r = info.get(f"slave{n}") or {}
        behind = max(0, offset - int(r.get("offset", 0)))
        lag = int(r.get("lag", 0))
        replicas.append(
            {
                "address": f"{r.get('ip')}:{r.get('port')}",
                "state": r.get("state"),
                "lag_seconds": lag,
                "behind_bytes": behind,
                "in_sync": r.get("state") == "online" and lag < SYNC_LAG_SECONDS,
            }
        )
    return {"primary": primary_address(conn), "role": info.get("role"), "replicas": replicas}


def render_queue(health: dict) -> str:
    """`queue: primary HOST:PORT, replicas: HOST:PORT in sync, ...` in one line."""
    replicas = [
        f"{r['address']} {'in sync' if r['in_sync'] else 'NOT in sync'} "
        f"({r['state']}, lag {r['lag_seconds']} s, {r['behind_bytes']} bytes behind)"
        for r in health["replicas"]
    ]
    return f"queue: primary {health['primary']}, replicas: {'; '.join(replicas) or 'none'}"


def run_queue(conn: redis.Redis, state: RunState) -> dict:
    """The run's queue: its name, the jobs waiting in it, the live slots listening on it."""
    name = state.spec().get("queue")
    if not name:  # a run queued before routing: its jobs are in the base queue
        return {}
    waiting = queue(conn, name).count
    return {"name": name, "waiting": waiting, "slots": routing.serving(conn, name)}


def render_run_queue(info: dict) -> str:
    if not info:
        return ""
    line = f"run queue {info['name']}: {info['waiting']} waiting, {info['slots']} live slot(s)"
    if not info["slots"]:
        line += " - no slot offering what these jobs need is running: they wait for one"
    return line


@dataclass(frozen=True)
class Tally:
    run_id: str
    total: int
    done: int
    by_state: dict[str, int]
    by_host: dict[str, dict[str, int]]

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "total": self.total,
            "done": self.done,
            "states": self.by_state,
            "hosts": self.by_host,
        }


def _counted(state: RunState, done: int) -> list[tuple[str, str, int]] | None:
    """(status, host, count) of the recorded outcomes from the folds' counters, if whole."""
    rows = state.host_counts()
    return rows if sum(n for _, _, n in rows) == done else None


def tally(conn: redis.Redis, state: RunState) -> Tally:
    state.spec()  # raises for a run that does not exist
    done, total = state.progress()
    counted = _counted(state, done)
    if counted is not None and done >= total:
        return _tally(state, total, done, counted)
    jobs = state.jobs()
    if counted is None:
        outcomes = state.outcomes()
        folded = set(outcomes)
        counted = [(o["status"], o.get("host") or "?", 1) for o in outcomes.values()]
    else:
        folded = state.folded()
    pending = [s for s in sorted(jobs) if s not in folded]
    fetched = Job.fetch_many([jobs[s] for s in pending], conn, serializer=JSONSerializer)
    where = list(counted)
    for job in fetched:
        if job is None:
            where.append(("missing", "-", 1))
            continue
        status = job.get_status(refresh=False)
        host = job.meta.get("host") if status == JobStatus.STARTED else None
        where.append((RQ_NAMES.get(status, status.value), host or "-", 1))
    return _tally(state, len(jobs), len(folded), where)


def _tally(state: RunState, total: int, done: int, where: list[tuple[str, str, int]]) -> Tally:
    """A Tally from (state, host, count) rows; host "-" counts in no host's row."""
    states: Counter[str] = Counter()
    hosts: dict[str, Counter] = {}
    for name, host, n in where:
        states[name] += n
        if host != "-":
            hosts.setdefault(host, Counter())[name] += n
    return Tally(
        run_id=state.run_id,
        total=total,
        done=done,
        by_state=dict(sorted(states.items())),
        by_host={h: dict(sorted(c.items())) for h, c in sorted(hosts.items())},
    )


def render(t: Tally) -> str:
    """Counts by state, then a table of states per host."""
    lines = [f"run {t.run_id}: {t.done} of {t.total} scenarios done", ""]
    width = max([len(s) for s in t.by_state] + [5])
    lines += [f"  {state:<{width}}  {count:>6}" for state, count in t.by_state.items()]
    if t.by_host:
        states = sorted({s for counts in t.by_host.values() for s in counts})
        hw = max(len(h) for h in [*t.by_host, "host"])
        lines += ["", "  " + "  ".join([f"{'host':<{hw}}", *(f"{s:>9}" for s in states)])]
        for host, counts in t.by_host.items():
            cells = [f"{counts.get(s, 0):>9}" for s in states]
            lines.append("  " + "  ".join([f"{host:<{hw}}", *cells]))
    return "\n".join(lines)


def render_paused(pauses: list[Pause]) -> str:
    """One line per paused slot of the fleet: `node3/2 paused: <reason> (until <time>)`."""
    if not pauses:
        return "paused slots: none"
    return "\n".join(["paused slots:", *(f"  {p.line()}" for p in pauses)])
