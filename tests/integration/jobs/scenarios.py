"""Scenario files for the job-engine tests. Each is a small Python script that finds its
io-dir in $SIMFLEET_IO, like the users' scenarios do."""

from __future__ import annotations

from pathlib import Path

HEADER = """import json, os, sys, time
io = os.environ["SIMFLEET_IO"]
job = json.load(open(os.path.join(io, "configs", "job.json")))
def answer(value):
    json.dump(value, open(os.path.join(io, "results", "result.json"), "w"))
def note_pid(pid_dir):
    if os.path.isdir(pid_dir):
        name = f"{job['scenario']}.{job['attempt']}"
        open(os.path.join(pid_dir, name), "w").write(str(os.getpid()))
"""

VALUE = """print("computing {n}", flush=True)
answer({{"value": {n}, "m": {{"score": {n} * 2}}}})
"""

# Reports the container's limits (cgroup v1 or v2) so the test can check --memory and --cpus.
LIMITS = """def read(*paths):
    for p in paths:
        if os.path.exists(p):
            return open(p).read().split()
    return None
mem = read("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
cpu = read("/sys/fs/cgroup/cpu.max")
if cpu is None:
    q, p = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
    cpu = [q[0], p[0]] if q and p else None
cpus = int(cpu[0]) / int(cpu[1]) if cpu and cpu[0] not in ("max", "-1") else None
memory = int(mem[0]) if mem and mem[0] != "max" else None
answer({"value": 0, "memory_limit": memory, "cpus": cpus, "uid": os.getuid()})
"""

FAIL = """print("about to fail", flush=True)
sys.exit(3)
"""

# Runs past any timeout the tests set.
SLEEPER = """note_pid({pid_dir!r})
print("sleeping", flush=True)
time.sleep(120)
"""

# The first attempt waits to be killed (with its worker); later attempts answer at once.
SLOW = """if job["attempt"] == 1:
    note_pid({pid_dir!r})
    print("first attempt: waiting", flush=True)
    time.sleep(120)
print("attempt", job["attempt"], flush=True)
answer({{"value": 100, "m": {{"score": 200}}}})
"""

OOM = """print("allocating", flush=True)
hog = [bytearray(16 * 1024 * 1024) for _ in range(64)]
answer({"value": len(hog)})
"""

PREFIX = """answer({"value": 1, "prefix": sys.prefix})
"""


def script(body: str, **values: str | int) -> str:
    """HEADER plus a body; bodies given values are str.format templates ({{ for a brace)."""
    return HEADER + (body.format(**values) if values else body)


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def twenty(pid_dir: Path) -> dict[str, str]:
    """16 value scenarios, the limits reporter, one failure, one timeout, one slow one."""
    files = {f"v{n:02d}.py": script(VALUE, n=n) for n in range(1, 17)}
    files["limits.py"] = script(LIMITS)
    files["fail.py"] = script(FAIL)
    files["sleeper.py"] = script(SLEEPER, pid_dir=str(pid_dir))
    files["slow.py"] = script(SLOW, pid_dir=str(pid_dir))
    return files
