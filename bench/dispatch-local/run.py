"""bench/dispatch-local: what the job engine costs on one host, against starting jobs directly.

Two workloads, each timed the glue way and the direct way in the same run, alternating, three
times; medians are compared:
- 200 jobs whose command is `true`, in containers of the executor image, on 2 slots, against
  `docker run --rm IMAGE true` started 2 at a time by `xargs -P2`;
- 1,000 process-executor jobs of `true` on 2 slots, against `true` run by `xargs -P2`.
"glue" is `glue run DIR --command true --wait` end to end (listing, queueing, running,
uploading results and logs, folding, waiting) with `glue worker --slots 2` already running.

Targets (issue 16): the process row's per-job overhead (glue - direct) at most 5 ms; the
container row no slower than direct. The table replaces this benchmark's section of
docs/benchmarks.md (other sections are kept). Run it with `make bench-dispatch-local`;
`--workload docker|process` runs one row (the section then has only that row).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from bench.report import machine  # noqa: E402
from glue.lab.images import Builder  # noqa: E402
from tests.support.accounts import slot_accounts  # noqa: E402

START, END = "<!-- bench/dispatch-local: begin -->", "<!-- bench/dispatch-local: end -->"
REPEATS = 3
SLOTS = 2
WORKLOADS = {"docker": 200, "process": 1000}
# The container row: glue / direct at most; the process row: glue - direct per job at most.
RATIO_TARGET = 1.0
OVERHEAD_TARGET = 0.005


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd: list[str] | str, env: dict[str, str], shell: bool = False) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, shell=shell, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def render_section(
    rows: list[tuple[str, list[float], list[float]]], host: str, load_end: float
) -> str:
    lines = [
        START,
        "## dispatch-local: the job engine against starting jobs directly",
        "",
        f"`make bench-dispatch-local`, {datetime.now(UTC):%Y-%m-%d}, on {host}, "
        f"{load_end:.2f} at the end (a shared machine).",
        f"{SLOTS} slots; median of {REPEATS} alternating runs; the glue time is `glue run "
        "--wait` end to end with `glue worker` already running. Targets: containers within "
        f"{RATIO_TARGET}x of direct; processes at most {OVERHEAD_TARGET * 1000:.0f} ms per "
        "job over direct.",
        "",
        "| workload | direct | glue | glue / direct | per job, glue - direct | target met |",
        "|---|---|---|---|---|---|",
    ]
    for name, direct, glue in rows:
        d, g = statistics.median(direct), statistics.median(glue)
        jobs = int(name.split()[0].replace(",", ""))
        per_job = (g - d) / jobs
        met = per_job <= OVERHEAD_TARGET if "processes" in name else g / d <= RATIO_TARGET
        lines.append(
            f"| {name} | {d:.2f} s | {g:.2f} s | {g / d:.2f}x | "
            f"{per_job * 1000:+.1f} ms | {'yes' if met else 'no'} |"
        )
    lines += ["", "Every run (seconds, direct / glue):", ""]
    for name, direct, glue in rows:
        pairs = ", ".join(f"{d:.2f} / {g:.2f}" for d, g in zip(direct, glue, strict=True))
        lines.append(f"- {name}: {pairs}")
    lines += [
        "",
        "What a job costs on top of its command, per slot (which runs its jobs in its own "
        "process, with no work horse forked per job): Redis round trips (RQ's bookkeeping, "
        "the attempt's notes, the fold), making and removing the io-dir, writing logs/ and "
        "outcome.json to the results, for processes starting the command as the slot's own "
        "account and checking that none of its processes is left, and for containers the logs "
        "and inspect calls `docker run` does not make. The slot's finisher thread does the "
        "upload, the fold and RQ's bookkeeping of a job while the slot starts the next one, "
        "but in the same Python process: that work, mostly CPU, still shares the slot's one "
        "interpreter lock. Next to `true` run by xargs (about a millisecond) it is the whole "
        "time: the process row measures the overhead.",
    ]
    lines.append(END)
    section = "\n".join(lines)
    report.write_section(START, END, section)
    return section


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=sorted(WORKLOADS), help="run only this row")
    args = parser.parse_args()
    workloads = {args.workload: WORKLOADS[args.workload]} if args.workload else WORKLOADS
    # Process jobs run as slot accounts (the sandbox), made here as the worker role would.
    with slot_accounts(SLOTS) as job_users:
        return bench(job_users, workloads)


def bench(job_users: str, workloads: dict[str, int]) -> int:
    image = Builder(log=lambda m: print(f"bench: {m}", flush=True)).build("executor")
    host = machine()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    tmp.chmod(0o711)  # the slot accounts pass through to their io-dirs
    port = free_port()
    redis_args = ["--bind", "127.0.0.1", "--port", str(port), "--dir", str(tmp)]
    redis_args += ["--appendonly", "yes", "--save", "", "--logfile", str(tmp / "redis.log")]
    redis = subprocess.Popen(["redis-server", *redis_args])
    glue = [sys.executable, "-m", "glue"]
    env = {
        **os.environ,
        "GLUE_REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "GLUE_QUEUE": "bench",
        "GLUE_WORKDIR": str(tmp / "work"),
        "GLUE_RETRIES": "0",
        "GLUE_JOB_USERS": job_users,
        "PYTHONPATH": str(ROOT),
    }
    time.sleep(0.5)
    worker = subprocess.Popen(
        [*glue, "worker", "--slots", str(SLOTS), "--log-level", "WARNING"],
        env=env,
        stdout=(tmp / "worker.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        rows = []
        for executor, jobs in workloads.items():
            folder = tmp / f"jobs-{executor}"
            folder.mkdir()
            for n in range(jobs):
                (folder / f"job{n:04d}.py").write_text("")
            direct_cmd = (
                f"seq {jobs} | xargs -P{SLOTS} -I{{}} docker run --rm {image} true"
                if executor == "docker"
                else f"seq {jobs} | xargs -P{SLOTS} -I{{}} true"
            )
            direct, ours = [], []
            for rep in range(REPEATS):
                direct.append(timed(direct_cmd, env, shell=True))
                run_id = f"bench-{executor}-{int(time.time())}-{rep}"
                run = [*glue, "run", str(folder), "--run-id", run_id, "--executor", executor]
                ours.append(timed([*run, "--image", image, "--command", "true", "--wait"], env))
                print(
                    f"bench: {executor} x{jobs} run {rep + 1}: direct {direct[-1]:.2f} s, "
                    f"glue {ours[-1]:.2f} s",
                    flush=True,
                )
            label = "containers" if executor == "docker" else "processes"
            rows.append((f"{jobs:,} {label} of `true`", direct, ours))
        print(render_section(rows, host, os.getloadavg()[0]))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        redis.terminate()
        redis.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
