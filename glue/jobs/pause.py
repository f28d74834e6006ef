"""Slots that cannot run jobs stop taking them for a while, and their jobs go elsewhere.

An executor error means this slot could not run the scenario at all (its image is missing or
cannot be pulled, no GPU runtime, the disk is full, the Docker engine is away): another host
may well run it. A scenario that ran and failed is an answer, not an executor error, and never
pauses a slot.

A slot counts its executor errors in a row; at `pause_after` it pauses itself for
`pause_seconds`, doubled with each further error in a row up to `pause_max_seconds`. A job
that ran to an answer (either way) resets the count. The state lives in Redis, so
`glue status` on any host sees it:

  glue:slot:<host>/<n>:errors   executor errors in a row (a counter)
  glue:slot:<host>/<n>:paused   the pause (JSON), expiring when the pause ends
  glue:paused                   sorted set: slot -> end of its pause, to list pauses quickly

The hosts that failed a job are noted on it. While a live, unpaused slot on a host that has
not failed it serves the queue, the job goes back through RQ - the job function returns a
`Retry`, which RQ counts apart from the run's retries:
- a slot on a host that failed it hands it back without trying: to the queue at once, with
  no wait and counting as nobody's error, and then takes no job for HOLD_SECONDS, so a slot
  on another host gets it;
- after a real executor error, at once the first time, then after growing waits (RQ's
  scheduler), at most `executor_retries` times.
With no such host left the job runs here, and an executor error ends the attempt like any
failure: the run's retries apply, so a job every live host refuses still ends.
"""

from __future__ import annotations

import errno
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import docker.errors
import redis
import requests.exceptions
from rq import Retry, worker_registration
from rq.queue import Queue
from rq.worker import Worker

from glue.config import Settings
from glue.jobs.executor import ExecutorError, iso_utc

PAUSED_SET = "glue:paused"
WORKER_PREFIX = Worker.redis_worker_namespace_prefix
SLOT_PREFIX = "glue:slot:"
# An error count older than this starts again from zero.
COUNT_TTL = 24 * 3600
FULL_DISK = (errno.ENOSPC, errno.EDQUOT)
# A reason is shown on one line of `glue status`.
MAX_REASON = 300
# How long a slot that handed a job back waits before taking another: it must not take the
# same job again and again while the hosts that can run it are busy.
HOLD_SECONDS = 2.0


@dataclass(frozen=True)
class Pause:
    slot: str
    reason: str
    until: str
    errors: int

    def line(self) -> str:
        """`node3/2 paused: <reason> (until <time>)`, as status and the report show it."""
        return f"{self.slot} paused: {self.reason} (until {self.until})"


def slot_name(host: str, number: int) -> str:
    return f"{host}/{number}"


def worker_slot(worker_name: str) -> str | None:
    """The slot of a `glue worker` worker name (HOST.N.ID); None for any other worker."""
    host, sep, rest = worker_name.rpartition(".")
    host, sep2, number = host.rpartition(".")
    if not (sep and sep2 and host and number.isdigit() and rest):
        return None
    return slot_name(host, int(number))


def executor_error(exc: BaseException) -> str | None:
    """Why this slot could not run a job (one line), or None when `exc` says nothing about
    the slot."""
    if isinstance(exc, ExecutorError):
        return _one_line(str(exc))
    if isinstance(exc, OSError) and exc.errno in FULL_DISK:
        return f"disk full: {exc.strerror} ({exc.filename or 'job folder'})"
    if isinstance(exc, docker.errors.APIError):
        # The engine answered: only a full disk is about the slot; anything else (a command
        # not in the image, say) may be the run's own doing and must not pause the fleet.
        text = str(exc)
        return _one_line(f"disk full: {text}") if "no space left" in text.lower() else None
    if isinstance(exc, docker.errors.DockerException | requests.exceptions.ConnectionError):
        return _one_line(f"Docker engine unreachable: {exc}")
    return None


def _one_line(text: str) -> str:
    line = (text.splitlines() or [""])[0]
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 3] + "..."


def pause_seconds(errors: int, settings: Settings) -> int:
    """How long `errors` executor errors in a row pause a slot: 0 below pause_after, then
    pause_seconds doubling with each further error, never above pause_max_seconds."""
    if errors < settings.pause_after:
        return 0
    doublings = min(errors - settings.pause_after, 32)
    return min(settings.pause_max_seconds, settings.pause_seconds * 2**doublings)


def hand_back(handed: int) -> Retry:
    """RQ's Retry for a job this slot leaves to another host without trying: back to the
    queue at once; never the last one RQ allows (`handed` is the job's Retry count so far)."""
    return Retry(max=handed + 1)


def retry_after_error(errors: int, handed: int, settings: Settings) -> Retry:
    """RQ's Retry after the job's `errors`-th executor error: at once the first time (another
    slot may be free now), then waiting pause_seconds, doubling up to pause_max_seconds."""
    wait = 0 if errors <= 1 else pause_seconds(settings.pause_after + errors - 2, settings)
    return Retry(max=handed + 1, interval=wait)


def _key(slot: str, what: str) -> str:
    return f"{SLOT_PREFIX}{slot}:{what}"


def note_error(conn: redis.Redis, slot: str, reason: str, settings: Settings) -> Pause | None:
    """Count an executor error of `slot`; pause it when that makes pause_after in a row."""
    global _errors_counted
    _errors_counted = True
    counter = _key(slot, "errors")
    with conn.pipeline() as pipe:
        pipe.incr(counter)
        pipe.expire(counter, COUNT_TTL)
        errors = int(pipe.execute()[0])
    seconds = pause_seconds(errors, settings)
    if not seconds:
        return None
    end = time.time() + seconds
    pause = Pause(slot=slot, reason=reason, until=iso_utc_at(end), errors=errors)
    with conn.pipeline() as pipe:
        pipe.set(_key(slot, "paused"), json.dumps(asdict(pause)), ex=seconds)
        pipe.zremrangebyscore(PAUSED_SET, "-inf", time.time())
        pipe.zadd(PAUSED_SET, {slot: end})
        pipe.execute()
    return pause


def hold(conn: redis.Redis, slot: str) -> None:
    """The slot just handed a job back: it takes none for HOLD_SECONDS."""
    conn.set(_key(slot, "held"), 1, px=int(HOLD_SECONDS * 1000))


def standing(conn: redis.Redis, slot: str) -> tuple[Pause | None, bool]:
    """The slot's pause, if any, and whether it holds: one round trip before each job."""
    raw, hold_mark = conn.mget([_key(slot, "paused"), _key(slot, "held")])
    return (Pause(**json.loads(raw)) if raw else None), hold_mark is not None


# Whether this slot's process may have counted an error that an answer must clear: true at
# its start (an earlier process of the slot may have), so most answers cost no round trip.
_errors_counted = True


def note_answer(conn: redis.Redis, slot: str) -> None:
    """The slot ran a job to an answer: its executor works, the count starts again."""
    global _errors_counted
    if _errors_counted:
        conn.delete(_key(slot, "errors"))
        _errors_counted = False


def paused(conn: redis.Redis, slot: str) -> Pause | None:
    raw = conn.get(_key(slot, "paused"))
    return Pause(**json.loads(raw)) if raw else None


def all_paused(conn: redis.Redis) -> list[Pause]:
    """Every slot of the fleet paused now, by slot name."""
    slots = [
        s.decode() if isinstance(s, bytes) else s
        for s in conn.zrangebyscore(PAUSED_SET, time.time(), "+inf")
    ]
    raws = conn.mget([_key(s, "paused") for s in slots]) if slots else []
    return sorted((Pause(**json.loads(r)) for r in raws if r), key=lambda p: p.slot)


def another_host_ready(conn: redis.Redis, queue: Queue, failed_hosts: list[str]) -> bool:
    """Whether a live, unpaused slot on a host not in `failed_hosts` serves `queue`.

    Live: its RQ worker hash is there (it expires when the heartbeats stop, before RQ's
    maintenance drops the worker from the queue's set)."""
    names = [
        (k.decode() if isinstance(k, bytes) else k).removeprefix(WORKER_PREFIX)
        for k in worker_registration.get_keys(queue=queue, connection=conn)
    ]
    slots = {
        name: s
        for name, s in ((n, worker_slot(n)) for n in names)
        if s and s.rpartition("/")[0] not in failed_hosts
    }
    if not slots:
        return False
    with conn.pipeline(transaction=False) as pipe:
        for name, s in slots.items():
            pipe.exists(WORKER_PREFIX + name)
            pipe.exists(_key(s, "paused"))
        answers = pipe.execute()
    return any(
        live and not stopped for live, stopped in zip(answers[::2], answers[1::2], strict=True)
    )


def iso_utc_at(epoch: float) -> str:
    return iso_utc(datetime.fromtimestamp(epoch, UTC))
