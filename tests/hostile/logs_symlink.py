"""Hostile: a link in logs/ to the worker's settings file, and logs/output.log replaced by a
link to it, so that a worker appending the job's output there would write into that file.
The worker writes its log elsewhere, uploads it as logs/output.log, and skips both links."""

import json
import os

io = os.environ["SIMFLEET_IO"]
target = os.environ.get("HOSTILE_TARGET", "/etc/simfleet/glue.yml")
os.symlink(target, os.path.join(io, "logs", "leak.txt"))
log = os.path.join(io, "logs", "output.log")
if os.path.lexists(log):
    os.remove(log)
os.symlink(target, log)
print("this line must not land in the target", flush=True)
with open(os.path.join(io, "results", "result.json"), "w") as out:
    json.dump({"attack": "links in logs/", "planted": True}, out)
