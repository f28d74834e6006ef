"""simfleet demo scenario fibonacci/fibonacci-01.py: Fibonacci number 50,000 modulo 1,000,000,007."""

import json
import os
import time

IO = os.environ.get("SIMFLEET_IO", ".")
started = time.monotonic()
print("scenario fibonacci/fibonacci-01.py: Fibonacci number 50,000 modulo 1,000,000,007", flush=True)
a, b = 0, 1
for _ in range(50000):
    a, b = b, (a + b) % 1_000_000_007
value = a
print(f"scenario fibonacci/fibonacci-01.py: value {value} in {time.monotonic() - started:.2f} s")
os.makedirs(os.path.join(IO, "results"), exist_ok=True)
with open(os.path.join(IO, "results", "result.json"), "w") as out:
    json.dump({"scenario": "fibonacci/fibonacci-01.py", "value": value}, out)
