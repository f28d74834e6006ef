"""Wait for a run to finish, with a progress bar on a terminal and sparse lines elsewhere.

Waiting rides out queue outages (glue.jobs.outage). Scenarios of the run with no job and no
outcome - never queued by a submit that was interrupted, or lost in a failover - are queued
again (glue.jobs.recover), with one line saying how many: when waiting starts, after each
outage, and every LOST_CHECK_SECONDS, so that no wait goes on for a job that does not exist.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from glue.jobs import recover
from glue.jobs.outage import Rider
from glue.jobs.runstate import RunState

POLL_SECONDS = 0.2
LOG_EVERY_SECONDS = 10
BAR_WIDTH = 30
LOST_CHECK_SECONDS = 60


def bar(done: int, total: int) -> str:
    filled = BAR_WIDTH * done // total if total else BAR_WIDTH
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}"


def requeue_lost(state: RunState, queue: str, ride: Rider) -> int:
    """Queue again what an interrupted submit or a failover left without a job; says how many
    on the rider's output."""
    count = ride(lambda: recover.requeue_lost(state.r, state, queue))
    if count:
        print(
            f"glue: run {state.run_id}: {count} scenario(s) had no job and no outcome "
            f"(an interrupted submit, or lost in a failover): queued them again in {queue!r}",
            file=ride.out,
        )
    return count


def until_complete(
    state: RunState,
    queue: str,
    ride: Rider,
    on_progress: Callable[[int, int], None] | None = None,
    poll: float = POLL_SECONDS,
) -> bool:
    """Poll until every scenario has an outcome (True) or the rider's deadline passed (False)."""
    requeue_lost(state, queue, ride)
    outages, checked = ride.outages, time.monotonic()
    while True:
        done, total = ride(state.progress)
        if on_progress:
            on_progress(done, total)
        if total and done >= total:
            return True
        if ride.outages != outages or time.monotonic() - checked >= LOST_CHECK_SECONDS:
            outages, checked = ride.outages, time.monotonic()
            requeue_lost(state, queue, ride)
        if ride.deadline is not None and time.monotonic() >= ride.deadline:
            return False
        time.sleep(poll)


def wait(state: RunState, queue: str, out: TextIO | None = None) -> None:
    """Block until every scenario of the run has an outcome, however long the queue is away."""
    out = out or sys.stderr
    tty = out.isatty()
    last = {"line": "", "time": 0.0}

    def show(done: int, total: int) -> None:
        line = f"run {state.run_id} {bar(done, total)}"
        now = time.monotonic()
        finished = bool(total) and done >= total
        if tty:
            out.write("\r" + line + ("\n" if finished else ""))
        elif line != last["line"] and (now - last["time"] >= LOG_EVERY_SECONDS or finished):
            out.write(line + "\n")
            last["time"] = now
        out.flush()
        last["line"] = line

    until_complete(state, queue, Rider(out=out), show)
