"""Which job slot this process is: the host, slot number and worker name, and its settings.

`glue worker` sets it in each slot's process before the first job. Code run by a plain
`rq worker` gets the host name, slot 0 and the settings from glue.yml and the environment.
"""

from __future__ import annotations

import os
import socket
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from glue import config
from glue.config import Settings
from glue.errors import GlueError


@dataclass(frozen=True)
class Slot:
    host: str
    number: int
    worker: str
    settings: Settings

    @property
    def gpus(self) -> tuple[str, ...]:
        """The GPUs this slot owns, by id: slot n takes the n-th group of `gpus_per_slot` of the
        host's `gpu_devices` (the last group may be smaller), so two slots never share a GPU;
        slots past the last GPU own none and are CPU slots. Slot 0 - no pool's slot, such as a
        local run - owns every GPU of the host."""
        devices = self.settings.gpu_devices
        if self.number < 1:
            return tuple(devices)
        first = (self.number - 1) * self.settings.gpus_per_slot
        return tuple(devices[first : first + self.settings.gpus_per_slot])


_current: Slot | None = None


def set_current(slot: Slot) -> None:
    global _current
    _current = slot


def current() -> Slot:
    global _current
    if _current is None:
        _current = Slot(socket.gethostname(), 0, "", config.load())
    return _current


_workdir: Path | None = None


def workdir() -> Path:
    """The folder under which this slot makes each job's folder: glue.yml's `workdir`, else a
    fresh folder of this process's own (not a predictable name in the shared /tmp).

    It belongs to the worker with mode 0711: a job's account may pass through to its own
    io-dir, nobody else may list it. A slot asks as it starts and keeps it."""
    global _workdir
    if _workdir is None:
        configured = current().settings.workdir
        if configured:
            path = Path(configured).expanduser()
            path.mkdir(mode=0o711, parents=True, exist_ok=True)
        else:
            path = Path(tempfile.mkdtemp(prefix="glue-jobs-"))
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise GlueError(f"workdir {path} must be a folder of this worker's own, not a link")
        path.chmod(0o711)
        _workdir = path
    return _workdir
