"""simfleet demo scenario collatz/collatz-10.py: the longest Collatz chain starting below 89,000."""

import json
import os
import time

IO = os.environ.get("SIMFLEET_IO", ".")
started = time.monotonic()
print("scenario collatz/collatz-10.py: the longest Collatz chain starting below 89,000", flush=True)
value = 0
for start in range(1, 89000):
    x, steps = start, 0
    while x != 1:
        x, steps = (x // 2 if x % 2 == 0 else 3 * x + 1), steps + 1
    value = max(value, steps)
print(f"scenario collatz/collatz-10.py: value {value} in {time.monotonic() - started:.2f} s")
os.makedirs(os.path.join(IO, "results"), exist_ok=True)
with open(os.path.join(IO, "results", "result.json"), "w") as out:
    json.dump({"scenario": "collatz/collatz-10.py", "value": value}, out)
