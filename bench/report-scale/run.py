"""bench/report-scale: `glue report` and `glue status` on a finished run of 100,000 jobs.

The run is synthetic (tests/support/bigrun.py: 32 slots on 8 hosts, jobs of 0.2-4 s, about
1 % failed) but written into a real redis-server exactly as workers leave it, so both
commands read what they would read after a real run. Each command runs as a user runs it
(`python -m glue ...`, a new process), three times; medians are reported, next to the time
`glue status` spends answering once Python has started, and the time headless Chromium takes
to open the page and draw it. Targets (issue 15): report <= 10 s and <= 5 MB, status <= 0.3 s.

Run it with `python bench/report-scale/run.py`; it replaces its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
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
from glue.jobs import status  # noqa: E402
from glue.jobs.report.build import HTML_NAME, PNG_NAME  # noqa: E402
from glue.jobs.runstate import RunState  # noqa: E402
from tests.support import bigrun, chromium  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

START, END = "<!-- bench/report-scale: begin -->", "<!-- bench/report-scale: end -->"
JOBS, REPEATS, RUN_ID = 100_000, 3, "scale-100k"
TARGETS = {"report": 10.0, "page": 5 * 1024 * 1024, "status": 0.3}


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of a command: on a shared machine the CPU
    time is what the wall-clock time would be with the machine to itself."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    server = RedisServer(tmp, password="bench")
    server.start()
    try:
        return bench(server, tmp)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def bench(server: RedisServer, tmp: Path) -> int:
    host = report.machine()
    conn = redis.Redis.from_url(server.url())
    bigrun.fill(conn, RUN_ID, JOBS)
    used = conn.info("memory")["used_memory"]
    env = {**os.environ, "GLUE_REDIS_URL": server.url(), "PYTHONPATH": str(ROOT)}
    glue = [sys.executable, "-m", "glue"]
    out = tmp / "report"
    reports, statuses, answers = [], [], []
    for rep in range(REPEATS):
        reports.append(timed([*glue, "report", RUN_ID, "--output", str(out)], env))
        statuses.append(timed([*glue, "status", RUN_ID], env))
        start = time.perf_counter()
        status.tally(conn, RunState(conn, RUN_ID))
        answers.append(time.perf_counter() - start)
        print(f"bench: round {rep + 1}: report {reports[-1]}, status {statuses[-1]}", flush=True)
    page = (out / HTML_NAME).stat().st_size
    folder = sum(f.stat().st_size for f in out.iterdir())
    pages = len(list(out.glob("jobs-*.html")))
    shot = Path("/tmp") / "glue-report-100k.png"
    opened = chromium.screenshot(out / HTML_NAME, shot)
    r, s = (statistics.median(w for w, _ in x) for x in (reports, statuses))
    rc, sc = (statistics.median(c for _, c in x) for x in (reports, statuses))
    a = statistics.median(answers)
    met = {
        "report": r <= TARGETS["report"],
        "report CPU": rc <= TARGETS["report"],
        "page": page <= TARGETS["page"],
        "status": s <= TARGETS["status"],
        "status CPU": sc <= TARGETS["status"],
    }
    yes = {k: "yes" if v else "no" for k, v in met.items()}
    lines = [
        START,
        "## report-scale: `glue report` and `glue status` on a run of 100,000 jobs",
        "",
        f"`python bench/report-scale/run.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, on {host}; "
        f"load average {os.getloadavg()[0]:.2f} at the end "
        "(a shared machine). A synthetic finished run (tests/support/bigrun.py: 100,000 "
        f"outcomes on 32 slots, about 1 % failed) in a real redis-server ({used / 2**20:.0f} MB "
        f"used); each command a new process, median of {REPEATS}.",
        "",
        "| measure | value | target | met |",
        "|---|---|---|---|",
        f"| `glue report` (Redis to files), wall clock | {r:.2f} s | <= {TARGETS['report']:.0f} s "
        f"| {yes['report']} |",
        f"| `glue report`, CPU seconds | {rc:.2f} s | <= {TARGETS['report']:.0f} s "
        f"| {yes['report CPU']} |",
        f"| report.html | {page / 2**20:.2f} MB | <= 5 MB | {yes['page']} |",
        f"| the folder: report.html, {PNG_NAME}, {pages} pages of jobs | {folder / 2**20:.1f} MB "
        "| - | - |",
        f"| `glue status` (the command), wall clock | {s:.2f} s | <= {TARGETS['status']} s | "
        f"{yes['status']} |",
        f"| `glue status`, CPU seconds | {sc:.2f} s | <= {TARGETS['status']} s | "
        f"{yes['status CPU']} |",
        f"| `glue status`'s answer, Python started | {a * 1000:.1f} ms | - | - |",
        "| headless Chromium opens and draws report.html | "
        + (f"{opened:.2f} s" if opened is not None else "not installed")
        + " | - | - |",
        "",
        "Every round (wall-clock seconds, report / status): "
        + ", ".join(f"{x[0]:.2f} / {y[0]:.2f}" for x, y in zip(reports, statuses, strict=True))
        + ".",
        "",
        "The page draws each host/slot lane as merged bars (the status that kept each stretch "
        "busy longest, plus a loud bar where jobs failed), so its size depends on the slots, "
        "not the jobs; the job list is in pages of 2,000 beside it. `glue status` on a finished "
        "run reads the counters each fold keeps by host and status (a few small keys); `glue "
        "status` as a command is mostly Python starting and importing glue, redis and rq.",
        END,
    ]
    section = "\n".join(lines)
    report.write_section(START, END, section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
