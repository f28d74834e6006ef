"""Hostile: fork until the system says no. Bounded by the pids limit (a container) or the
slot account's process limit (a process): far fewer than CAP forks succeed. CAP keeps even
an unbounded host responsive; the children go when the job ends."""

import json
import os
import time

CAP = 600
started, forks, error = time.monotonic(), 0, ""
while forks < CAP:
    try:
        pid = os.fork()
    except OSError as exc:
        error = exc.strerror
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    forks += 1
with open(os.path.join(os.environ["SIMFLEET_IO"], "results", "result.json"), "w") as out:
    json.dump(
        {
            "attack": "fork bomb",
            "blocked": forks < CAP,
            "forks": forks,
            "detail": error,
            "seconds": round(time.monotonic() - started, 2),
        },
        out,
    )
