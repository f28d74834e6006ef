"""Hostile (to the scheduler): submitted with `--gpus 1` to a fleet without GPU slots. Refused
at submit, in one line, before anything is queued."""

import json
import os

with open(os.path.join(os.environ["SIMFLEET_IO"], "results", "result.json"), "w") as out:
    json.dump({"attack": "a GPU on a host without one", "ran": True}, out)
