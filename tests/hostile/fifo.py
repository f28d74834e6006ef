"""Hostile: a FIFO in results/, on which a worker reading results would block forever. The
worker skips anything that is not a regular file or folder, and says so."""

import json
import os

io = os.environ["SIMFLEET_IO"]
os.mkfifo(os.path.join(io, "results", "pipe"))
with open(os.path.join(io, "results", "result.json"), "w") as out:
    json.dump({"attack": "a FIFO in results/", "planted": True}, out)
