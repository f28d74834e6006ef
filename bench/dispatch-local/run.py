"""bench/dispatch-local: what the job engine costs on one host, against starting jobs directly.

Two workloads, each timed the glue way and the direct way in the same run, alternating, three
times; medians are compared:
- 200 jobs whose command is `true`, in containers of the executor image, on 2 slots, against
  `docker run --rm IMAGE true` started 2 at a time by `xargs -P2`;
- 1,000 process-executor jobs of `true` on 2 slots, against `true` run by `xargs -P2`.
"glue" is `glue run DIR --command true --wait` end to end (listing, queueing, running,
uploading results and logs, folding, waiting) with `glue worker --slots 2` already running.

The table replaces this benchmark's section of docs/benchmarks.md (other sections are kept).
Run it with `make bench-dispatch-local`.
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
WORKLOADS = (("docker", 200), ("process", 1000))
TARGET = 1.15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd: list[str] | str, env: dict[str, str], shell: bool = False) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, shell=shell, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def render_section(
    rows: list[tuple[str, list[float], list[float]]], host: str, loads: tuple[float, float]
) -> str:
    lines = [
        START,
        "## dispatch-local: the job engine against starting jobs directly",
        "",
        f"`make bench-dispatch-local`, {datetime.now(UTC):%Y-%m-%d}, on {host}; load average "
        f"{loads[0]:.2f} at the start and {loads[1]:.2f} at the end (a shared machine).",
        f"{SLOTS} slots; median of {REPEATS} alternating runs; the glue time is `glue run "
        "--wait` end to end with `glue worker` already running. Target: glue within "
        f"{TARGET}x of direct.",
        "",
        "| workload | direct | glue | glue / direct | per job, glue - direct | target met |",
        "|---|---|---|---|---|---|",
    ]
    for name, direct, glue in rows:
        d, g = statistics.median(direct), statistics.median(glue)
        jobs = int(name.split()[0].replace(",", ""))
        lines.append(
            f"| {name} | {d:.2f} s | {g:.2f} s | {g / d:.2f}x | "
            f"{(g - d) / jobs * 1000:+.1f} ms | {'yes' if g / d <= TARGET else 'no'} |"
        )
    lines += ["", "Every run (seconds, direct / glue):", ""]
    for name, direct, glue in rows:
        pairs = ", ".join(f"{d:.2f} / {g:.2f}" for d, g in zip(direct, glue, strict=True))
        lines.append(f"- {name}: {pairs}")
    lines += [
        "",
        "What a job costs on top of its command, per slot: forking RQ's work horse, about 40 "
        "Redis round trips (RQ's bookkeeping, the attempt's notes, the fold), making and "
        "removing the io-dir, writing logs/ and outcome.json to the results, and for containers "
        "the logs and inspect calls `docker run` does not make. Next to a container start that "
        "is a few percent; next to `true` run by xargs (about a millisecond) it is the whole "
        "time, so the process workload cannot come near the target: it measures the overhead.",
    ]
    lines.append(END)
    section = "\n".join(lines)
    report.write_section(START, END, section)
    return section


def main() -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    # Process jobs run as slot accounts (the sandbox), made here as the worker role would.
    with slot_accounts(SLOTS) as job_users:
        return bench(job_users)


def bench(job_users: str) -> int:
    image = Builder(log=lambda m: print(f"bench: {m}", flush=True)).build("executor")
    host, load_start = machine(), os.getloadavg()[0]
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
        for executor, jobs in WORKLOADS:
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
        print(render_section(rows, host, (load_start, os.getloadavg()[0])))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        redis.terminate()
        redis.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
