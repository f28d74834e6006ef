"""Run a scenario as a subprocess on the worker host, with the same io-dir, timeout and logs as
the container executor.

The command runs in a session of its own, so on timeout, on termination of the work horse, and
after it ends, its whole process group is killed: nothing a scenario starts outlives its job.
A venv (or a conda env: both keep their programs in bin/) is used by putting its bin/ first on
PATH, which is all that activating one does for a non-interactive command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO

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


def resolve_venv(venv: str, venv_root: str) -> str:
    """A venv given by path, or by name under venv_root; it must have bin/python."""
    path = Path(venv).expanduser() if "/" in venv else Path(venv_root).expanduser() / venv
    if not (path / "bin" / "python").exists():
        raise ExecutorError(f"no Python environment {venv!r} on this host (looked in {path})")
    return str(path.resolve())


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _copy_with_timestamps(stream: IO[bytes], log: Path) -> None:
    """Each output line prefixed with its time, like `docker logs --timestamps`."""
    with log.open("ab") as out:
        for line in iter(stream.readline, b""):
            out.write(iso_utc().encode() + b" " + line)
            out.flush()


def run(spec: ExecSpec, io: IoDir) -> ExecResult:
    io_root = str(io.root)
    env = {**os.environ, **spec.environment(io_root)}
    if spec.venv:
        env["PATH"] = f"{spec.venv}/bin{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = spec.venv
    argv = spec.argv(io_root)
    started = iso_utc()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=io_root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        message = f"cannot start {argv[0]}: {exc.strerror}"
        io.log.write_text(f"{started} {message}\n")
        return ExecResult(FAILED, 127, started, iso_utc(), error=message)
    with cleanup_on_terminate(lambda: _kill_group(proc.pid)):
        pump = threading.Thread(target=_copy_with_timestamps, args=(proc.stdout, io.log))
        pump.start()
        timed_out = False
        try:
            code = proc.wait(timeout=spec.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            code = proc.wait()
        finally:
            _kill_group(proc.pid)
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
