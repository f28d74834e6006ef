"""Print how many of this host's glue workers are alive and registered on the queue.

The worker role runs it (and its Molecule scenario checks with it) after starting
simfleet-worker.service, with the worker venv's Python, as root: systemd's "active" only says
that the pool process runs, while workers that cannot reach Redis or read their settings keep
dying and being started again. A worker counts when RQ has it registered for the queue every
slot of the fleet listens on (CPU and GPU slots alike: glue.jobs.routing), the hostname it
recorded is this host's, and the process with its pid here began before it registered.
Registrations of a pool killed outright stay behind until RQ's worker TTL expires, and a host
rebuilt from scratch (a new container, a reinstalled machine) hands out the same low pids
again: a pid that is merely alive would count a dead slot of the old host as registered.

Usage: registered_slots.py GLUE_YML
"""

from __future__ import annotations

import os
import socket
import sys
from datetime import UTC
from pathlib import Path

from rq import Worker

from glue import config
from glue.errors import GlueError
from glue.jobs import connection, routing


def started_at(pid: int | None) -> float | None:
    """When the process with this pid began (seconds since the epoch), or None if none runs."""
    if not pid:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name in parentheses may hold spaces; field 22 (starttime) is the 20th after it.
    ticks = int(stat.rsplit(")", 1)[1].split()[19])
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def registered_by_it(worker: Worker) -> bool:
    """Whether the process now running under the worker's pid is the one that registered."""
    began = started_at(worker.pid)
    if began is None or worker.birth_date is None:
        return False
    birth = worker.birth_date
    if birth.tzinfo is None:  # RQ writes UTC
        birth = birth.replace(tzinfo=UTC)
    # One second of slack: the boot time is in whole seconds.
    return began <= birth.timestamp() + 1


def count(config_path: str) -> int:
    settings = config.load(config_path=config_path, environ={})
    conn = connection.connect(settings.redis_url)
    queue = connection.queue(conn, routing.any_slot_queue(settings.queue))
    host = socket.gethostname()
    workers = Worker.all(queue=queue, serializer=queue.serializer)
    return sum(1 for worker in workers if worker.hostname == host and registered_by_it(worker))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        print(count(argv[0]))
    except GlueError as exc:
        print(f"registered_slots: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
