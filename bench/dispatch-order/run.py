"""bench/dispatch-order: what queueing the longest scenarios first gains, on one host.

11 process-executor scenarios on 2 slots: ten of 1 s, then one of 8 s listed last (a sweep
whose slow case sorts last, as the demo's do). The first run of a round has no history, so
it queues in listing order and the 8 s scenario starts after the short ones; the second run
(a new run id, same files) finds every duration in the queue's history and queues the long
one first. Each round changes the files (a comment), so it starts without history. The
makespan of each run (first start to last end, from its summary) is set against its lower
bound, max(longest job, total work / slots), which the summary also gives.

Run it with `python bench/dispatch-order/run.py` (root: it makes the slot accounts); it
replaces its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench import report  # noqa: E402
from glue.jobs.runstate import RunState  # noqa: E402
from tests.support.accounts import slot_accounts  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

START, END = "<!-- bench/dispatch-order: begin -->", "<!-- bench/dispatch-order: end -->"
SLOTS, ROUNDS = 2, 3
SLEEPS = {**{f"case-{n:02d}.py": 1.0 for n in range(10)}, "case-99.py": 8.0}


def makespan(conn: redis.Redis, run_id: str) -> tuple[float, float]:
    summary = RunState(conn, run_id).summary()
    started, ended = (datetime.fromisoformat(summary[k]) for k in ("started", "ended"))
    return (ended - started).total_seconds(), summary["dispatch"]["lower_bound"]


def main() -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-order-"))
    tmp.chmod(0o711)  # the slot accounts pass through to their io-dirs
    server = RedisServer(tmp, password="bench")
    server.start()
    try:
        with slot_accounts(SLOTS) as job_users:
            return bench(server, tmp, job_users)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def bench(server: RedisServer, tmp: Path, job_users: str) -> int:
    host = report.machine()
    conn = redis.Redis.from_url(server.url())
    env = {
        **os.environ,
        "GLUE_REDIS_URL": server.url(),
        "GLUE_QUEUE": "bench-order",
        "GLUE_WORKDIR": str(tmp / "work"),
        "GLUE_RETRIES": "0",
        "GLUE_JOB_USERS": job_users,
        "PYTHONPATH": str(ROOT),
    }
    glue = [sys.executable, "-m", "glue"]
    worker = subprocess.Popen(
        [*glue, "worker", "--slots", str(SLOTS), "--log-level", "WARNING"],
        env=env,
        stdout=(tmp / "worker.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    folder = tmp / "scenarios"
    folder.mkdir()
    rows: list[tuple[float, float, float, float]] = []
    try:
        for rnd in range(ROUNDS):
            for name, seconds in SLEEPS.items():
                (folder / name).write_text(f"import time\ntime.sleep({seconds})  # round {rnd}\n")
            spans = []
            for which in ("first", "second"):
                run_id = f"order-{int(time.time())}-{rnd}-{which}"
                subprocess.run(
                    [*glue, "run", str(folder), "--run-id", run_id, "--executor", "process",
                     "--results", str(tmp / "results"), "--wait"],
                    env=env, check=True, stdout=subprocess.DEVNULL,
                )  # fmt: skip
                spans.append(makespan(conn, run_id))
            (first, bound1), (second, bound2) = spans
            rows.append((first, bound1, second, bound2))
            print(f"bench: round {rnd + 1}: first {first:.2f} s, second {second:.2f} s")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    first, second = (statistics.median(r[i] for r in rows) for i in (0, 2))
    bound = statistics.median(r[3] for r in rows)
    lines = [
        START,
        "## dispatch-order: longest first from the history of earlier runs",
        "",
        f"`python bench/dispatch-order/run.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, on "
        f"{host}; load average {os.getloadavg()[0]:.2f} at the end (a shared machine). "
        f"{len(SLEEPS)} process jobs on {SLOTS} slots: ten sleep "
        "1 s, then one sleeps 8 s, listed last. Median of "
        f"{ROUNDS} rounds, each with changed files (no history at its start).",
        "",
        "| run | makespan | lower bound | makespan / lower bound |",
        "|---|---|---|---|",
        f"| first (no history: listing order) | {first:.2f} s | {bound:.2f} s | "
        f"{first / bound:.2f}x |",
        f"| second (history: longest first) | {second:.2f} s | {bound:.2f} s | "
        f"{second / bound:.2f}x |",
        "",
        "Every round (seconds, first / second): "
        + ", ".join(f"{r[0]:.2f} / {r[2]:.2f}" for r in rows)
        + ". The lower bound is max(longest job, total work / slots) of the second run, "
        "with glue's own time per job inside each job's start and end.",
        END,
    ]
    section = "\n".join(lines)
    report.write_section(START, END, section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
