"""Run a scenario as a subprocess on the worker host, with the same io-dir, timeout and logs as
the container executor, as the job slot's own unprivileged account.

Each slot has an account of its own (glue.yml `job_users`, e.g. `simfleet-job{slot}`, made
by the worker role: not in the docker group, no access to /etc/simfleet or the worker's
home), the way HTCondor's dedicated slot users work. A worker running as root switches to it
directly; otherwise through the narrow sudo rule the worker role writes. The job gets only an
allowlisted environment. Because the account runs nothing but this slot's job, every process
it owns is the job's: at the end of the job, at its timeout and when the job is stopped, all
of them are killed - setsid and double-forked children included - and only
then is the output pump waited for, so a child holding the pipe cannot hang the job.
A venv (or a conda env: both keep their programs in bin/) is used by putting its bin/ first on
PATH, which is all that activating one does for a non-interactive command.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import pwd
import resource
import select
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO

from glue.jobs import sandbox, slot
from glue.jobs.executor import (
    FAILED,
    SUCCEEDED,
    TIMED_OUT,
    ExecResult,
    ExecSpec,
    ExecutorError,
    IoDir,
    interruptible,
    iso_utc,
)

log = logging.getLogger("glue.jobs")

# The PATH a job starts from (a venv's bin/ goes first); the worker's own PATH is not passed.
JOB_PATH = "/usr/local/bin:/usr/bin:/bin"
# util-linux's, on every Debian and Ubuntu host.
PRLIMIT, SETPRIV = "/usr/bin/prlimit", "/usr/bin/setpriv"
KILL_SECONDS = 10
# More than /proc/<pid>/status ever holds (about 1.5 KiB): one read gets all of it.
STATUS_BYTES = 16384
# Run as the slot's account: SIGKILL the pids given as arguments.
_KILL = """import os, sys
for pid in sys.argv[1:]:
    try:
        os.kill(int(pid), 9)
    except OSError:
        pass
"""


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int


def resolve_venv(venv: str, venv_root: str) -> str:
    """A venv given by path, or by name under venv_root; it must have bin/python."""
    path = Path(venv).expanduser() if "/" in venv else Path(venv_root).expanduser() / venv
    if not (path / "bin" / "python").exists():
        raise ExecutorError(f"no Python environment {venv!r} on this host (looked in {path})")
    return str(path.resolve())


def slot_account() -> Account:
    """This slot's account from glue.yml's `job_users` pattern; never root nor the worker."""
    here = slot.current()
    pattern = here.settings.job_users
    if not pattern:
        raise ExecutorError(
            "process jobs need job_users in glue.yml (one account per slot, e.g. "
            "simfleet-job{slot}, made by the worker role); this worker has none"
        )
    name = pattern.replace("{slot}", str(here.number))
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ExecutorError(
            f"slot {here.number} has no account {name!r} on this host (job_users {pattern!r})"
        ) from None
    if entry.pw_uid in (0, os.getuid()):
        raise ExecutorError(f"job account {name!r} is root or the worker itself: refused")
    return Account(name, entry.pw_uid, entry.pw_gid)


def _as_account(
    account: Account, argv: list[str], env: dict[str, str], pids_limit: int | None = None
) -> tuple[list, dict]:
    """The argv and Popen options that run `argv` as the account with exactly `env` and, when
    given, RLIMIT_NPROC `pids_limit`: counted per uid, and the slot's account runs nothing but
    this job, so it bounds the job's processes and threads the way a container's pids limit
    does.

    A root worker sets both through util-linux's prlimit and setpriv rather than Popen's
    user, group and preexec_fn: with any of those Python forks the whole slot process, some
    3 ms a job, where the programs let it vfork. (The slot cannot give the job its own limit
    instead: a later run's higher limit would need CAP_SYS_RESOURCE, which a root worker in a
    container lacks.)"""
    if os.getuid() == 0:
        limit = [PRLIMIT, f"--nproc={pids_limit}:{pids_limit}"] if pids_limit else []
        switch = [SETPRIV, f"--reuid={account.uid}", f"--regid={account.gid}", "--clear-groups"]
        return [*limit, *switch, "--", *argv], {"env": env}
    assignments = [f"{name}={value}" for name, value in env.items()]
    wrapped = ["sudo", "-n", "-u", account.name, "--", "/usr/bin/env", "-i", *assignments, *argv]
    options: dict = {"env": {"PATH": JOB_PATH}}
    if pids_limit:
        # Set in the child before sudo starts; sudo keeps it for the account.
        nproc = (pids_limit, pids_limit)
        options["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_NPROC, nproc)
    return wrapped, options


def _status(pid: str, uid: int | None = None) -> dict[str, str] | None:
    """A process's /proc status fields; None when it is gone or, `uid` given, when its real
    uid is another. That check comes before any parsing: a scan reads every process's status
    once per job, and most are not the account's."""
    try:
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
    except OSError:
        return None
    try:
        raw = os.read(fd, STATUS_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    if uid is not None:
        at = raw.find(b"\nUid:")
        if at < 0 or int(raw[at + 5 : at + 40].split()[0]) != uid:
            return None
    return dict(line.split(":", 1) for line in raw.decode().splitlines() if ":" in line)


def _job_processes(uid: int) -> tuple[list[int], int]:
    """The account's processes, as (live pids, zombie count): those in the worker's own PID
    namespace, plus their descendants in PID namespaces the job made. A container elsewhere
    on the host that happens to run with the same uid is neither, and is left alone."""
    depth = len(_status("self")["NSpid"].split())
    table = {}
    for name in os.listdir("/proc"):
        status = _status(name, uid) if name.isdigit() else None
        if status:
            table[int(name)] = status
    found = {pid for pid, st in table.items() if len(st["NSpid"].split()) == depth}
    while more := {pid for pid, st in table.items() if int(st["PPid"]) in found} - found:
        found |= more
    zombies = {pid for pid in found if table[pid]["State"].strip().startswith("Z")}
    return sorted(found - zombies), len(zombies)


def _kill_as(account: Account, pids: list[int]) -> None:
    """SIGKILL the pids as the account itself, so that the kernel refuses any pid reused
    meanwhile by a process of someone else."""
    if os.getuid() == 0:
        child = os.fork()
        if child == 0:  # only system calls here: the parent has threads
            try:
                os.setgroups([])
                os.setgid(account.gid)
                os.setuid(account.uid)
                for pid in pids:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        return
    # The base interpreter, not the worker's venv: any account can run it.
    python = os.path.realpath(sys.executable)
    argv, options = _as_account(account, [python, "-c", _KILL, *map(str, pids)], {})
    subprocess.run(argv, **options, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


def kill_account(account: Account, proc: subprocess.Popen | None = None) -> None:
    """Kill every process of the account, again while any is left (one forking meanwhile),
    then give init a moment to reap them: zombies still count against the next job's
    process limit. The job's own child (`proc`) is this slot's to reap."""
    deadline = time.monotonic() + KILL_SECONDS
    while time.monotonic() < deadline:
        live, zombies = _job_processes(account.uid)
        if live:
            _kill_as(account, live)
        elif not zombies:
            return
        if proc is not None:
            proc.poll()
        time.sleep(0.05)


def _copy_with_timestamps(stream: IO[bytes], io: IoDir) -> None:
    """Each output line prefixed with its time, like `docker logs --timestamps`."""
    with io.open_log() as out:
        for line in iter(stream.readline, b""):
            out.write(iso_utc().encode() + b" " + line)
            out.flush()


@cache
def _pumps() -> ThreadPoolExecutor:
    """The thread that copies a job's output to its log, started once per slot process: a
    thread started per job costs the slot about a millisecond of waiting for it."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="glue-output")


# A forked slot has none of its parent's threads: it starts its own.
os.register_at_fork(after_in_child=_pumps.cache_clear)


def _pumped(pump: Future) -> None:
    """Until the job's output is copied; a copy that failed is logged (the job's own outcome
    stands, as its log says what was kept)."""
    error = pump.exception()
    if error is not None:
        log.warning("the job's output log is incomplete: %s", error)


def gpu_environment(ids: list[str]) -> dict[str, str]:
    """The variables that give a process its slot's GPUs and no other: NVIDIA's tools and
    containers read NVIDIA_VISIBLE_DEVICES, CUDA reads CUDA_VISIBLE_DEVICES, whose indices
    follow the PCI bus order (NVIDIA's) only with CUDA_DEVICE_ORDER=PCI_BUS_ID. A CPU job
    gets none: CUDA then sees no device."""
    visible = ",".join(ids)
    return {
        "NVIDIA_VISIBLE_DEVICES": visible or "void",
        "CUDA_VISIBLE_DEVICES": visible,
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
    }


def _environment(
    spec: ExecSpec, io: IoDir, home: Path, secrets: dict, gpus: list[str]
) -> dict[str, str]:
    env = {**spec.environment(str(io.root)), "HOME": str(home), "PATH": JOB_PATH}
    env.update(gpu_environment(gpus))
    if spec.venv:
        env["PATH"] = f"{spec.venv}/bin{os.pathsep}{JOB_PATH}"
        env["VIRTUAL_ENV"] = spec.venv
    if secrets:
        env[sandbox.SECRETS_ENV] = str(io.root / "secrets")
    return env


def kill_leftovers() -> None:
    """Kill what this slot's account still runs as the slot starts: the processes of a job
    whose slot was killed outright. They would share the next job's account and count against
    its process limit."""
    if slot.current().settings.job_users:
        with contextlib.suppress(ExecutorError):
            kill_account(slot_account())


def _check_found(program: str, path: str, cwd: Path) -> None:
    """Raise what exec would for a missing program, which setpriv would otherwise only print
    into the job's log: a name is looked up on the job's PATH, a path in the job's folder."""
    if "/" in program:
        found = os.access(cwd / program, os.X_OK)
    else:
        found = shutil.which(program, path=path) is not None
    if not found:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))


def run(spec: ExecSpec, io: IoDir) -> ExecResult:
    here = slot.current()
    gpus = spec.gpu_ids(here.gpus, f"{here.host}/{here.number}")
    account = slot_account()
    secrets = sandbox.install_secrets(
        spec.profile, here.settings.secrets_dir, io.root / "secrets", account.uid, account.gid
    )
    home = io.root / "home"
    home.mkdir(mode=0o700)
    io.hand_to(account.uid, account.gid)
    env = _environment(spec, io, home, secrets, gpus)
    command = spec.argv(str(io.root))
    argv, options = _as_account(account, command, env, spec.profile.pids_limit)
    started = iso_utc()
    proc = pump = None
    timed_out = False
    try:
        with interruptible():
            try:
                _check_found(command[0], env["PATH"], io.root)
                proc = subprocess.Popen(
                    argv,
                    cwd=io.root,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    **options,
                )
            except OSError as exc:
                message = f"cannot start {command[0]}: {exc.strerror}"
                with io.open_log() as log:
                    log.write(f"{started} {message}\n".encode())
                return ExecResult(FAILED, 127, started, iso_utc(), error=message)
            pump = _pumps().submit(_copy_with_timestamps, proc.stdout, io)
            code = _wait(proc, spec.timeout)
            timed_out = code is None
    finally:
        # Every path out, a stop of the job included: nothing of the account outlives it, and
        # only then is the pump waited for (a child holding the pipe cannot hang the job).
        if proc is not None:
            kill_account(account, proc)
            _release(io, account)
            if pump is not None:
                _pumped(pump)
            proc.stdout.close()
    if timed_out:
        code = proc.wait()
    ended = iso_utc()
    # Report a signal the way a shell and Docker do: 128 + its number.
    exit_code = 128 - code if code < 0 else code
    if timed_out:
        error = f"timed out after {spec.timeout}s"
        return ExecResult(TIMED_OUT, exit_code, started, ended, error=error)
    if exit_code == 0:
        return ExecResult(SUCCEEDED, 0, started, ended)
    return ExecResult(FAILED, exit_code, started, ended, error=f"exit code {exit_code}")


def _wait(proc: subprocess.Popen, timeout: float) -> int | None:
    """The command's exit status, or None once `timeout` seconds passed. The kernel wakes the
    slot the moment the command exits (a pidfd), where Popen.wait(timeout) polls, sleeping up
    to 50 ms between looks: a job's end would be seen 25 ms late on average."""
    try:
        fd = os.pidfd_open(proc.pid)
    except OSError:  # kernels before 5.3
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
    try:
        exited = select.poll()
        exited.register(fd, select.POLLIN)
        if not exited.poll(timeout * 1000):
            return None
    finally:
        os.close(fd)
    return proc.wait()


def _release(io: IoDir, account: Account) -> None:
    """Give the worker (in the account's group) read and delete rights on what the job made;
    a root worker has them already."""
    if os.getuid() == 0:
        return
    chmod = ["chmod", "-R", "u+rwX,g+rwX", "--", str(io.root)]
    argv, options = _as_account(account, chmod, {"PATH": JOB_PATH})
    subprocess.run(argv, **options, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
