"""simfleet demo scenario slow/slow-04.py: a long one: 20 s, then the sum 1..20."""

import json
import os
import time

IO = os.environ.get("SIMFLEET_IO", ".")
started = time.monotonic()
print("scenario slow/slow-04.py: a long one: 20 s, then the sum 1..20", flush=True)
time.sleep(20)
value = sum(range(1, 20 + 1))
print(f"scenario slow/slow-04.py: value {value} in {time.monotonic() - started:.2f} s")
os.makedirs(os.path.join(IO, "results"), exist_ok=True)
with open(os.path.join(IO, "results", "result.json"), "w") as out:
    json.dump({"scenario": "slow/slow-04.py", "value": value}, out)
