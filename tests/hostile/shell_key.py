"""Hostile: stored under the key `a;cd${IFS}results;touch${IFS}pwned;.py` (a file name with
shell code). Run as plain argv, or shell-quoted in an `sh -c` template, it runs as itself and
no results/pwned appears."""

import json
import os

with open(os.path.join(os.environ["SIMFLEET_IO"], "results", "result.json"), "w") as out:
    json.dump({"attack": "shell in the key", "value": 1}, out)
