"""simfleet demo scenario montecarlo/montecarlo-04.py: points of 200,000 seeded random ones (seed 4) inside the unit circle."""

import json
import os
import time

IO = os.environ.get("SIMFLEET_IO", ".")
started = time.monotonic()
print("scenario montecarlo/montecarlo-04.py: points of 200,000 seeded random ones (seed 4) inside the unit circle", flush=True)
import random

rng = random.Random(4)
value = sum(1 for _ in range(200_000) if rng.random() ** 2 + rng.random() ** 2 <= 1)
print(f"scenario montecarlo/montecarlo-04.py: value {value} in {time.monotonic() - started:.2f} s")
os.makedirs(os.path.join(IO, "results"), exist_ok=True)
with open(os.path.join(IO, "results", "result.json"), "w") as out:
    json.dump({"scenario": "montecarlo/montecarlo-04.py", "value": value}, out)
