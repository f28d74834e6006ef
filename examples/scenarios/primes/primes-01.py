"""simfleet demo scenario primes/primes-01.py: count the primes below 10,000."""

import json
import os
import time

IO = os.environ.get("SIMFLEET_IO", ".")
started = time.monotonic()
print("scenario primes/primes-01.py: count the primes below 10,000", flush=True)
n = 10000
sieve = bytearray([1]) * n
sieve[0:2] = b"\x00\x00"
for i in range(2, int(n**0.5) + 1):
    if sieve[i]:
        sieve[i * i :: i] = bytearray(len(range(i * i, n, i)))
value = sum(sieve)
print(f"scenario primes/primes-01.py: value {value} in {time.monotonic() - started:.2f} s")
os.makedirs(os.path.join(IO, "results"), exist_ok=True)
with open(os.path.join(IO, "results", "result.json"), "w") as out:
    json.dump({"scenario": "primes/primes-01.py", "value": value}, out)
