"""Which job slot this process is: the host, slot number and worker name, and its settings.

`glue worker` sets it in each worker process before the first job; the work horses RQ forks
inherit it. Code run by a plain `rq worker` gets the host name, slot 0 and the settings from
glue.yml and the environment.
"""

from __future__ import annotations

import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from glue import config
from glue.config import Settings


@dataclass(frozen=True)
class Slot:
    host: str
    number: int
    worker: str
    settings: Settings


_current: Slot | None = None


def set_current(slot: Slot) -> None:
    global _current
    _current = slot


def current() -> Slot:
    global _current
    if _current is None:
        _current = Slot(socket.gethostname(), 0, "", config.load())
    return _current


def workdir() -> Path:
    """The folder under which this slot makes each job's io-dir (glue.yml's `workdir`)."""
    configured = current().settings.workdir
    if configured:
        return Path(configured).expanduser()
    return Path(tempfile.gettempdir()) / "glue-jobs"
