"""Run a scenario as a subprocess on the worker host, with the same io-dir, timeout and logs as
the container executor, as the job slot's own unprivileged account.

Each slot has an account of its own (glue.yml `job_users`, e.g. `simfleet-job{slot}`, made
by the worker role: not in the docker group, no access to /etc/simfleet or the worker's
home), the way HTCondor's dedicated slot users work. A worker running as root switches to it
directly; otherwise through the narrow sudo rule the worker role writes. The job gets only an
allowlisted environment. Because the account runs nothing but this slot's job, every process
it owns is the job's: at the end of the job, at its timeout and when the work horse is told to
terminate, all of them are killed - setsid and double-forked children included - and only
then is the output pump waited for, so a child holding the pipe cannot hang the job.
A venv (or a conda env: both keep their programs in bin/) is used by putting its bin/ first on
PATH, which is all that activating one does for a non-interactive command.
"""

from __future__ import annotations

import os
import pwd
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
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
    cleanup_on_terminate,
    iso_utc,
)

# The PATH a job starts from (a venv's bin/ goes first); the worker's own PATH is not passed.
JOB_PATH = "/usr/local/bin:/usr/bin:/bin"
KILL_SECONDS = 10
NVIDIA_DEVICE = "/dev/nvidiactl"
# Run as the slot's account: signal every process that account may signal, i.e. its own.
_KILL_ALL = "import os, signal\ntry:\n os.kill(-1, signal.SIGKILL)\nexcept OSError:\n pass"


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


def _as_account(account: Account, argv: list[str], env: dict[str, str]) -> tuple[list, dict]:
    """The argv and Popen options that run `argv` as the account with exactly `env`."""
    if os.getuid() == 0:
        return argv, {"user": account.uid, "group": account.gid, "extra_groups": [], "env": env}
    assignments = [f"{name}={value}" for name, value in env.items()]
    wrapped = ["sudo", "-n", "-u", account.name, "--", "/usr/bin/env", "-i", *assignments, *argv]
    return wrapped, {"env": {"PATH": JOB_PATH}}


def _processes_of(uid: int) -> tuple[int, int]:
    """How many processes have `uid` as their real uid: (live, zombie)."""
    live = zombies = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue
        if int(fields["Uid"].split()[0]) == uid:
            if fields["State"].strip().startswith("Z"):
                zombies += 1
            else:
                live += 1
    return live, zombies


def _signal_all_as(account: Account) -> None:
    """kill(-1, SIGKILL) as the account: every process it owns, and nothing else."""
    if os.getuid() == 0:
        pid = os.fork()
        if pid == 0:  # only system calls here: the parent has threads
            try:
                os.setgroups([])
                os.setgid(account.gid)
                os.setuid(account.uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        return
    # The base interpreter, not the worker's venv: any account can run it.
    python = os.path.realpath(sys.executable)
    argv, options = _as_account(account, [python, "-c", _KILL_ALL], {})
    subprocess.run(argv, **options, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


def kill_account(account: Account) -> None:
    """Kill every process of the account, again while any is left (one forking meanwhile),
    then give init a moment to reap them: zombies still count against the next job's
    process limit."""
    deadline = time.monotonic() + KILL_SECONDS
    while time.monotonic() < deadline:
        live, zombies = _processes_of(account.uid)
        if live:
            _signal_all_as(account)
        elif not zombies:
            return
        time.sleep(0.05)


def _copy_with_timestamps(stream: IO[bytes], io: IoDir) -> None:
    """Each output line prefixed with its time, like `docker logs --timestamps`."""
    with io.open_log() as out:
        for line in iter(stream.readline, b""):
            out.write(iso_utc().encode() + b" " + line)
            out.flush()


def _environment(spec: ExecSpec, io: IoDir, home: Path, secrets: dict) -> dict[str, str]:
    env = {**spec.environment(str(io.root)), "HOME": str(home), "PATH": JOB_PATH}
    if spec.venv:
        env["PATH"] = f"{spec.venv}/bin{os.pathsep}{JOB_PATH}"
        env["VIRTUAL_ENV"] = spec.venv
    if secrets:
        env[sandbox.SECRETS_ENV] = str(io.root / "secrets")
    return env


def _limit_processes(limit: int):
    """RLIMIT_NPROC for the job: counted per uid, and the slot's account runs nothing but this
    job, so it bounds the job's processes and threads the way a container's pids limit does."""
    return lambda: resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))


def run(spec: ExecSpec, io: IoDir) -> ExecResult:
    if spec.gpus and not Path(NVIDIA_DEVICE).exists():
        raise ExecutorError(f"the job asks for {spec.gpus} GPU(s) but this host has no NVIDIA GPU")
    account = slot_account()
    # Whatever an earlier job of this slot left (its horse killed outright) goes first: it
    # would share this job's group and count against its process limit.
    kill_account(account)
    secrets = sandbox.install_secrets(
        spec.profile,
        slot.current().settings.secrets_dir,
        io.root / "secrets",
        account.uid,
        account.gid,
    )
    home = io.root / "home"
    home.mkdir(mode=0o700)
    io.hand_to(account.uid, account.gid)
    env = _environment(spec, io, home, secrets)
    argv, options = _as_account(account, spec.argv(str(io.root)), env)
    started = iso_utc()
    with cleanup_on_terminate(lambda: kill_account(account)):
        try:
            proc = subprocess.Popen(
                argv,
                cwd=io.root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_limit_processes(spec.profile.pids_limit),
                **options,
            )
        except OSError as exc:
            message = f"cannot start {argv[0]}: {exc.strerror}"
            with io.open_log() as log:
                log.write(f"{started} {message}\n".encode())
            return ExecResult(FAILED, 127, started, iso_utc(), error=message)
        return _wait(spec, io, account, proc, started)


def _wait(
    spec: ExecSpec, io: IoDir, account: Account, proc: subprocess.Popen, started: str
) -> ExecResult:
    pump = threading.Thread(target=_copy_with_timestamps, args=(proc.stdout, io))
    pump.start()
    timed_out = False
    try:
        code = proc.wait(timeout=spec.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_account(account)
        code = proc.wait()
    finally:
        kill_account(account)
        _release(io, account)
        pump.join()
        proc.stdout.close()
    ended = iso_utc()
    # Report a signal the way a shell and Docker do: 128 + its number.
    exit_code = 128 - code if code < 0 else code
    if timed_out:
        error = f"timed out after {spec.timeout}s"
        return ExecResult(TIMED_OUT, exit_code, started, ended, error=error)
    if exit_code == 0:
        return ExecResult(SUCCEEDED, 0, started, ended)
    return ExecResult(FAILED, exit_code, started, ended, error=f"exit code {exit_code}")


def _release(io: IoDir, account: Account) -> None:
    """Give the worker (in the account's group) read and delete rights on what the job made;
    a root worker has them already."""
    if os.getuid() == 0:
        return
    chmod = ["chmod", "-R", "u+rwX,g+rwX", "--", str(io.root)]
    argv, options = _as_account(account, chmod, {"PATH": JOB_PATH})
    subprocess.run(argv, **options, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
