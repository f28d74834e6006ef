"""simfleet demo scenario factorial/factorial-07.py: the digit sum of 700!."""

import json
import os
import time

IO = os.environ.get("SIMFLEET_IO", ".")
started = time.monotonic()
print("scenario factorial/factorial-07.py: the digit sum of 700!", flush=True)
import math

value = sum(int(d) for d in str(math.factorial(700)))
print(f"scenario factorial/factorial-07.py: value {value} in {time.monotonic() - started:.2f} s")
os.makedirs(os.path.join(IO, "results"), exist_ok=True)
with open(os.path.join(IO, "results", "result.json"), "w") as out:
    json.dump({"scenario": "factorial/factorial-07.py", "value": value}, out)
