"""Hostile: results/result.json is a link to the worker's settings file, so the file's text
would become the job's result (and land in the run summary). The worker refuses to read a
link: the job fails, saying so."""

import os

io = os.environ["SIMFLEET_IO"]
target = os.environ.get("HOSTILE_TARGET", "/etc/simfleet/glue.yml")
os.symlink(target, os.path.join(io, "results", "result.json"))
