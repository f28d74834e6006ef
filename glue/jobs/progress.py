"""Wait for a run to finish, with a progress bar on a terminal and sparse lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from glue.jobs.runstate import RunState

POLL_SECONDS = 0.2
LOG_EVERY_SECONDS = 10
BAR_WIDTH = 30


def bar(done: int, total: int) -> str:
    filled = BAR_WIDTH * done // total if total else BAR_WIDTH
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}"


def wait(state: RunState, out: TextIO = sys.stderr) -> None:
    """Block until every scenario of the run has an outcome."""
    tty = out.isatty()
    last_line, last_time = "", 0.0
    while True:
        done, total = state.progress()
        line = f"run {state.run_id} {bar(done, total)}"
        now = time.monotonic()
        if tty:
            out.write("\r" + line)
        elif line != last_line and (now - last_time >= LOG_EVERY_SECONDS or done >= total):
            out.write(line + "\n")
            last_time = now
        out.flush()
        last_line = line
        if total and done >= total:
            if tty:
                out.write("\n")
            return
        time.sleep(POLL_SECONDS)
