"""Running one function in several forked processes at the same moment, for races."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable


def _after(start, fn: Callable[[], object]) -> None:
    start.wait()
    fn()


def run_at_once(fn: Callable[[], object], count: int = 4, timeout: float = 60) -> list[int | None]:
    """Fork `count` processes that all call fn() once a barrier lets them go together; return
    their exit codes (0 each when fn returned, None when one was still running at timeout)."""
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(count)
    procs = [ctx.Process(target=_after, args=(start, fn)) for _ in range(count)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
    return [p.exitcode for p in procs]
