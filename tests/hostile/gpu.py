"""Hostile (to the scheduler): submitted with `--gpus 1` to a host without GPUs. Refused
before it runs, with one line naming the missing GPU runtime."""

import json
import os

with open(os.path.join(os.environ["SIMFLEET_IO"], "results", "result.json"), "w") as out:
    json.dump({"attack": "a GPU on a host without one", "ran": True}, out)
