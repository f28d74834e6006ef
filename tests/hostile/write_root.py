"""Hostile: write to / and /usr. Refused: a read-only root in a container, a user without
write rights there as a process."""

import json
import os

written, errors = [], []
for path in ("/simfleet-hostile-write-root", "/usr/simfleet-hostile-write-root"):
    try:
        with open(path, "w") as out:
            out.write("x")
        written.append(path)
    except OSError as exc:
        errors.append(f"{path}: {exc.strerror}")
with open(os.path.join(os.environ["SIMFLEET_IO"], "results", "result.json"), "w") as out:
    json.dump({"attack": "write to /", "blocked": not written, "detail": errors}, out)
