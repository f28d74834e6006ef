"""bench/scale: one run of 100,000 scenarios on this machine, and what it costs Redis.

A local folder of empty scenario files, `glue run --executor process --command true` with the
reducers count, sum:value and concat, a local redis-server (append-only file on, as the redis
role runs it) and `glue worker` slots on this machine. Measured:
- enqueue: `glue run` without --wait, in this process (listing the folder and queueing; the
  command's modules are imported first);
- Redis memory (INFO used_memory above the empty server's): after the enqueue, the highest
  seen during the run, and after completion, per scenario;
- fold cost per job at the start (the run state before the first job, copied then) and at
  the end (after the last): a copy of each, listing more scenarios as its own, takes their
  outcomes with a result, in alternating timed rounds after the run (see fold_costs);
- `glue status` and `glue report` on the completed run, in this process (Python's own start,
  about 0.3 s here, is not counted); the size of the report's largest page (report.html or
  one of the pages of 2,000 jobs each a big run's job list is split into: what a browser
  opens) and of its whole folder;
- the report page opened in headless Chromium: its screenshot goes to SHOT, and the timeline
  counts as drawn when the screenshot has at least TIMELINE_PIXELS of the succeeded bars' green.
Targets (issue 15) are in TARGETS. The table replaces this benchmark's section of
docs/benchmarks.md (other sections are kept). Run it with `make bench-scale`; --scenarios N for
a shorter run (the table says how many ran); --keep DIR keeps the report's folder.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench import report  # noqa: E402
from glue.cli import main as cli  # noqa: E402
from glue.jobs.report.build import HTML_NAME  # noqa: E402
from glue.jobs.runstate import KEY_PREFIX, RunState  # noqa: E402
from tests.support import chromium  # noqa: E402
from tests.support.accounts import slot_accounts  # noqa: E402
from tests.support.net import free_port  # noqa: E402

START, END = "<!-- bench/scale: begin -->", "<!-- bench/scale: end -->"
SHOT = ROOT / "docs" / "bench-scale-report.png"
# Tall enough to reach the timeline below the reduced result and its notes. Two slot lanes of
# green bars across the page draw tens of thousands of pixels; the status bar alone, about
# 12,000.
SHOT_HEIGHT = 3000
TIMELINE_PIXELS = 20_000
REDUCERS = ("count", "sum:value", "concat")
# Folds per round, rounds (the figure is their median), and folds before them not counted.
FOLD_SAMPLES = 200
FOLD_ROUNDS = 11
FOLD_WARMUP = 50
TARGETS = {
    "enqueue": 20_000,  # scenarios per second, at least
    "bytes_per_job": 1024,  # after completion, at most
    "fold_growth": 1.2,  # fold cost at the end / at the start, at most
    "status": 0.3,  # seconds, at most
    "report": 10.0,  # seconds, at most
    "page": 5 * 1024 * 1024,  # bytes, at most
}


def glue(*args: str) -> tuple[float, str]:
    """A glue command in this process: (seconds, stdout); fails loudly on a non-zero exit."""
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(args))
    took = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"bench: glue {' '.join(args)} failed ({code}): {err.getvalue()}")
    return took, out.getvalue()


def run_keys(conn: redis.Redis, run_id: str) -> list[bytes]:
    base = KEY_PREFIX + run_id
    return [base.encode(), *conn.scan_iter(match=f"{base}:*", count=1000)]


class FoldProbe:
    """Folds into a copy of a run's state, timed.

    The probe's scenarios are listed in the copy as the run's own, under their job ids, and
    one more than is folded: each probe fold is then what a job's fold is in the middle of a
    run. Outcomes of scenarios the run does not list would count towards its completion, and
    at the end of a run every such fold would stamp it complete and set the expiry of each of
    its keys, as only the run's last fold does. The first FOLD_WARMUP folds (the fold script's
    first load into Redis, first use) are not timed."""

    def __init__(self, conn: redis.Redis, source: str, name: str) -> None:
        self.conn, self.name, self.done = conn, name, 0
        copy_run(conn, source, name)
        self.state = RunState(conn, name)
        self.reduce = self.state.spec()["reduce"]
        folds = FOLD_WARMUP + FOLD_ROUNDS * FOLD_SAMPLES
        self.state.register({f"{name}/{n}.py": f"{name}-{n}" for n in range(folds + 1)})
        for _ in range(FOLD_WARMUP):
            self._fold()

    def _fold(self) -> None:
        n, self.done = self.done, self.done + 1
        outcome = {
            "scenario": f"{self.name}/{n}.py",
            "job_id": f"{self.name}-{n}",
            "status": "succeeded",
            "host": "probe",
            "attempt": 1,
        }
        if not self.state.fold(outcome, {"value": n}, self.reduce):
            raise SystemExit(f"bench: probe fold {n} was not recorded")

    def round(self) -> float:
        """Seconds per fold over FOLD_SAMPLES folds."""
        start = time.perf_counter()
        for _ in range(FOLD_SAMPLES):
            self._fold()
        return (time.perf_counter() - start) / FOLD_SAMPLES

    def delete(self) -> None:
        self.conn.delete(*run_keys(self.conn, self.name))


def copy_run(conn: redis.Redis, source: str, target: str) -> None:
    """Copy every key of run `source` under run id `target`."""
    for key in run_keys(conn, source):
        copy = key.decode().replace(KEY_PREFIX + source, KEY_PREFIX + target, 1)
        conn.copy(key, copy, replace=True)


def fold_costs(conn: redis.Redis, at_start: str, run_id: str) -> tuple[float, float]:
    """Seconds per fold into the run's state as it was at its start (`at_start`, the copy
    taken then) and as it is at its end: the medians of FOLD_ROUNDS rounds of each, taken in
    turn, so that both meet the same Redis and the same load of the machine (measured apart,
    at the start and at the end, they differed by the machine's drift as much as by the run)."""
    settled(conn)
    probes = [
        FoldProbe(conn, at_start, f"{run_id}-probe-start"),
        FoldProbe(conn, run_id, f"{run_id}-probe-end"),
    ]
    rounds: tuple[list[float], list[float]] = ([], [])
    for _ in range(FOLD_ROUNDS):
        for probe, times in zip(probes, rounds, strict=True):
            times.append(probe.round())
    for probe in probes:
        probe.delete()
    return statistics.median(rounds[0]), statistics.median(rounds[1])


def settled(conn: redis.Redis, seconds: float = 60) -> None:
    """Wait (a bounded time) for a background rewrite of the append-only file or a save to
    end: while its fork lives, every write pays for copy-on-write, whatever the write."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        info = conn.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["rdb_bgsave_in_progress"]:
            return
        time.sleep(0.1)


class PeakMemory(threading.Thread):
    """The highest used_memory seen, sampled every half second until stopped."""

    def __init__(self, conn: redis.Redis) -> None:
        super().__init__(daemon=True)
        self.conn, self.peak, self.done = conn, 0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, used(self.conn))
            self.done.wait(0.5)


def used(conn: redis.Redis) -> int:
    return int(conn.info("memory")["used_memory"])


def wait_complete(state: RunState, say: Callable[[str], None]) -> None:
    last = 0.0
    while True:
        done, total = state.progress()
        if total and done >= total:
            return
        if time.monotonic() - last > 30:
            say(f"{done}/{total} done")
            last = time.monotonic()
        time.sleep(1)


def verdict(ok: bool) -> str:
    return "yes" if ok else "no"


def opened_row(f: dict[str, float]) -> tuple[str, str, str, str]:
    """The row of report.html opened in headless Chromium (its screenshot is SHOT)."""
    what = f"report.html in headless Chromium ([screenshot]({SHOT.name}))"
    if "opened" not in f:
        return what, "Chromium is not installed", "timeline drawn", "no"
    drawn = f["timeline"] >= TIMELINE_PIXELS
    measured = f"opened in {f['opened']:.1f} s; {f['timeline']:,.0f} pixels of bar green"
    return what, measured, f"timeline drawn (>= {TIMELINE_PIXELS:,} pixels)", verdict(drawn)


def render(figures: dict[str, float], n: int, slots: int, host: str, load_end: float) -> str:
    f = figures
    rate = n / f["enqueue"]
    growth = f["fold_end"] / f["fold_start"]
    rows = [
        (
            "enqueue",
            f"{f['enqueue']:.2f} s, {rate:,.0f} scenarios/s",
            f">= {TARGETS['enqueue']:,}/s",
            verdict(rate >= TARGETS["enqueue"]),
        ),
        ("Redis after the enqueue", f"{f['queued'] / n:,.0f} bytes/scenario", "", ""),
        ("Redis at its peak", f"{f['peak'] / n:,.0f} bytes/scenario", "", ""),
        (
            "Redis after completion",
            f"{f['after'] / n:,.0f} bytes/scenario ({f['after'] / 2**20:,.1f} MiB)",
            f"<= {TARGETS['bytes_per_job']} bytes",
            verdict(f["after"] / n <= TARGETS["bytes_per_job"]),
        ),
        (
            "fold per job, start / end",
            f"{f['fold_start'] * 1000:.2f} ms / {f['fold_end'] * 1000:.2f} ms ({growth:.2f}x)",
            f"end <= {TARGETS['fold_growth']}x start",
            verdict(growth <= TARGETS["fold_growth"]),
        ),
        (
            "`glue status`",
            f"{f['status']:.2f} s",
            f"<= {TARGETS['status']} s",
            verdict(f["status"] <= TARGETS["status"]),
        ),
        (
            "`glue report`",
            f"{f['report']:.2f} s",
            f"<= {TARGETS['report']:.0f} s",
            verdict(f["report"] <= TARGETS["report"]),
        ),
        (
            "report page, the largest",
            f"{f['page'] / 2**20:.1f} MiB",
            f"<= {TARGETS['page'] // 2**20} MiB",
            verdict(f["page"] <= TARGETS["page"]),
        ),
        ("report folder (pages of jobs, PNG)", f"{f['folder'] / 2**20:.1f} MiB", "", ""),
        opened_row(f),
        ("the run, end to end", f"{f['run']:.0f} s on {slots} slots", "", ""),
    ]
    lines = [
        START,
        "## scale: one run of many scenarios",
        "",
        f"`make bench-scale`, {datetime.now(UTC):%Y-%m-%d}, on {host}; load average "
        f"{load_end:.2f} at the end (a shared machine).",
        f"{n:,} empty scenario files in a local folder, `--executor process --command true "
        f"--reduce {' --reduce '.join(REDUCERS)}`, a local redis-server (append-only file on), "
        f"`glue worker --slots {slots}` on the same machine. Memory is Redis' used_memory above "
        "the empty server's; fold cost is the median of "
        f"{FOLD_ROUNDS} rounds of {FOLD_SAMPLES} folds (after {FOLD_WARMUP} not counted) into "
        "a copy of the run's state as it was before its first job (taken then) and as it is "
        "after its last, the rounds of the two in turn after the run, each copy listing the "
        "folded scenarios as its own; `glue status` "
        "and `glue report` are timed in-process (without Python's start).",
        "",
        "| figure | measured | target | met |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        END,
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", type=int, default=100_000)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument(
        "--keep",
        metavar="DIR",
        type=Path,
        help="copy the run's report folder to DIR (to open the page afterwards)",
    )
    args = parser.parse_args()
    # Process jobs run as slot accounts (the sandbox), made here as the worker role would.
    with slot_accounts(args.slots) as job_users:
        return bench(args.scenarios, args.slots, job_users, args.keep)


def bench(n: int, slots: int, job_users: str, keep: Path | None = None) -> int:
    def say(message: str) -> None:
        print(f"bench: {message}", flush=True)

    host = report.machine()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    tmp.chmod(0o711)  # the slot accounts pass through to their io-dirs
    port = free_port()
    server = subprocess.Popen(
        [
            *("redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(tmp)),
            *("--appendonly", "yes", "--save", "", "--hash-max-ziplist-value", "256"),
            *("--logfile", str(tmp / "redis.log")),
        ]
    )
    url = f"redis://127.0.0.1:{port}/0"
    env = {
        "GLUE_REDIS_URL": url,
        "GLUE_QUEUE": "bench-scale",
        "GLUE_WORKDIR": str(tmp / "work"),
        "GLUE_RETRIES": "0",
        "GLUE_JOB_USERS": job_users,
    }
    os.environ.update(env)
    os.environ.pop("GLUE_CONFIG", None)
    worker = None
    try:
        conn = redis.Redis.from_url(url)
        for _ in range(50):
            try:
                conn.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        folder = tmp / "scenarios"
        folder.mkdir()
        for i in range(n):
            (folder / f"s{i:06d}.py").write_bytes(b"")
        say(f"{n} scenarios in {folder}")
        run_id = f"scale-{int(time.time())}"
        empty = used(conn)
        figures: dict[str, float] = {}
        run = ["run", str(folder), "--run-id", run_id, "--executor", "process"]
        run += ["--command", "true", *(f"--reduce={r}" for r in REDUCERS)]
        # Imported before the clock starts, like Python's start for status and report: the
        # figure is the listing and queueing, not the loading of glue's modules (about 0.5 s).
        cli.build_parser("run")
        figures["enqueue"], _ = glue(*run)
        figures["queued"] = used(conn) - empty
        say(f"queued in {figures['enqueue']:.2f} s; Redis +{figures['queued']:,} bytes")
        state = RunState(conn, run_id)
        # The run's state as it is before its first job, kept for the fold cost at the end;
        # the memory figures leave the copy out.
        before_copy = used(conn)
        copy_run(conn, run_id, f"{run_id}-start")
        copied = used(conn) - before_copy

        peak = PeakMemory(conn)
        peak.start()
        started = time.perf_counter()
        worker = subprocess.Popen(
            [sys.executable, "-m", "glue", "worker", "--slots", str(slots), "--log-level", "ERROR"],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=(tmp / "worker.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_complete(state, say)
        figures["run"] = time.perf_counter() - started
        peak.done.set()
        peak.join()
        figures["peak"] = max(peak.peak - copied, figures["queued"] + empty) - empty
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        worker = None
        figures["after"] = used(conn) - copied - empty
        figures["fold_start"], figures["fold_end"] = fold_costs(conn, f"{run_id}-start", run_id)
        conn.delete(*run_keys(conn, f"{run_id}-start"))
        figures["status"] = statistics.median(glue("status", run_id)[0] for _ in range(3))
        out = tmp / "report"
        figures["report"], _ = glue("report", run_id, "--output", str(out))
        figures["page"] = max(p.stat().st_size for p in out.glob("*.html"))
        figures["folder"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        opened = chromium.screenshot(out / HTML_NAME, SHOT, height=SHOT_HEIGHT)
        if opened is not None:
            figures["opened"], figures["timeline"] = opened, chromium.bar_green(SHOT)
            say(f"report screenshot in {SHOT}")
        if keep is not None:
            shutil.copytree(out, keep, dirs_exist_ok=True)
            say(f"report kept in {keep}")
        section = render(figures, n, slots, host, os.getloadavg()[0])
        report.write_section(START, END, section)
        print(section)
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
