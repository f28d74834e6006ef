"""Riding out a queue outage in commands run by hand (`glue wait`, `glue run --wait`, status).

A command that only reads or waits has nothing to lose by waiting for the queue: it says so
in one line, retries with backoff, and goes on where it was once the queue answers again -
through the sentinels, that is once a replica has been promoted. Only a deadline ends the wait,
with QueueUnreachable (exit status 4, distinct from failure and from "not complete yet").
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO, TypeVar

from glue.jobs.connection import QueueUnreachable, is_unreachable, one_line

T = TypeVar("T")
FIRST_PAUSE = 0.5
LONGEST_PAUSE = 5.0


class Rider:
    """Calls steps until they get through; counts the outages it rode out."""

    def __init__(self, deadline: float | None = None, out: TextIO | None = None) -> None:
        self.deadline = deadline  # time.monotonic() after which to give up; None: never
        self.out = out or sys.stderr  # looked up now: callers may have redirected it
        self.outages = 0

    def __call__(self, step: Callable[[], T]) -> T:
        since: float | None = None
        pause = FIRST_PAUSE
        while True:
            try:
                result = step()
            except Exception as exc:
                if not (isinstance(exc, QueueUnreachable) or is_unreachable(exc)):
                    raise
                now = time.monotonic()
                if since is None:
                    since = now
                    print(f"glue: queue unreachable: {one_line(exc)}, retrying", file=self.out)
                    self.out.flush()
                left = None if self.deadline is None else self.deadline - now
                if left is not None and left <= 0:
                    raise QueueUnreachable(
                        f"queue unreachable for {now - since:.0f} s, giving up: {one_line(exc)}"
                    ) from None
                time.sleep(pause if left is None else min(pause, left))
                pause = min(LONGEST_PAUSE, pause * 2)
                continue
            if since is not None:
                self.outages += 1
                print(
                    f"glue: queue reachable again after {time.monotonic() - since:.0f} s",
                    file=self.out,
                )
            return result
