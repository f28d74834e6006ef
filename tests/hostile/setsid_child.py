"""Hostile: leave children that outlive the job - one in a session of its own, one
double-forked daemon holding the job's output pipe. The job still ends at once, and both are
dead after it (the slot account's processes are all killed; a container takes its own)."""

import json
import os
import subprocess
import time

child = subprocess.Popen(["sleep", "300"], start_new_session=True)
read, write = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(write, str(os.getpid()).encode())
        print("daemon holding the output pipe", flush=True)
        time.sleep(300)
    os._exit(0)
daemon = int(os.read(read, 32))
with open(os.path.join(os.environ["SIMFLEET_IO"], "results", "result.json"), "w") as out:
    json.dump({"attack": "children outliving the job", "pids": [child.pid, daemon]}, out)
