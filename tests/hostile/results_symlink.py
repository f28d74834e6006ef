"""Hostile: links in results/ to the worker's settings file and to its folder, hoping the
worker uploads what they point to. The worker skips them and says so in the outcome's notes."""

import json
import os

io = os.environ["SIMFLEET_IO"]
target = os.environ.get("HOSTILE_TARGET", "/etc/simfleet/glue.yml")
os.symlink(target, os.path.join(io, "results", "leak.txt"))
os.symlink(os.path.dirname(target), os.path.join(io, "results", "leakdir"))
with open(os.path.join(io, "results", "result.json"), "w") as out:
    json.dump({"attack": "links in results/", "planted": True}, out)
