"""Hostile: read the worker's settings file (Redis password) and its environment (S3 keys).
Refused: the file is not there (container) or not readable (process: another account), and
the job's environment holds nothing of the worker's but proxies, LANG and TZ."""

import json
import os
import re

target = os.environ.get("HOSTILE_TARGET", "/etc/simfleet/glue.yml")
try:
    with open(target) as f:
        text, blocked = f.read(), False
except OSError as exc:
    text, blocked = exc.strerror, True
leaked = sorted(name for name in os.environ if re.match(r"(AWS_|GLUE_|REDIS|REGISTRY)", name))
with open(os.path.join(os.environ["SIMFLEET_IO"], "results", "result.json"), "w") as out:
    json.dump(
        {
            "attack": "read the worker's settings and environment",
            "blocked": blocked and not leaked,
            "detail": text if blocked else "read",
            "leaked_variables": leaked,
        },
        out,
    )
