"""Print how many of this host's glue workers are alive and registered on the queue.

The worker role runs it (and its Molecule scenario checks with it) after starting
simfleet-worker.service, with the worker venv's Python, as root: systemd's "active" only says
that the pool process runs, while workers that cannot reach Redis or read their settings keep
dying and being started again. A worker counts when RQ has it registered for the queue every
slot of the fleet listens on (CPU and GPU slots alike: glue.jobs.routing), the hostname it
recorded is this host's, and its process is alive here: registrations
of a pool killed outright stay behind until RQ's worker TTL expires.

Usage: registered_slots.py GLUE_YML
"""

from __future__ import annotations

import os
import socket
import sys

from rq import Worker

from glue import config
from glue.errors import GlueError
from glue.jobs import connection, routing


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def count(config_path: str) -> int:
    settings = config.load(config_path=config_path, environ={})
    conn = connection.connect(settings.redis_url)
    queue = connection.queue(conn, routing.any_slot_queue(settings.queue))
    host = socket.gethostname()
    workers = Worker.all(queue=queue, serializer=queue.serializer)
    return sum(1 for worker in workers if worker.hostname == host and alive(worker.pid))


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
