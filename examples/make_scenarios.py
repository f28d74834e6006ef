"""Write the demo's sample scenarios into examples/scenarios/ (the files are committed).

Each scenario is a stand-alone Python script, as users' scenarios are: it computes one small
integer, writes {"value": ...} to results/result.json in its io-dir and prints a few log
lines. A few sleep to stand for longer simulations, and broken/ holds one that fails on
purpose, so a demo run shows retries, a failure with its log and a reduction that leaves it
out. The files are generated so that the 50 variants cannot drift apart by hand edits;
tests/unit/test_examples.py checks the committed files match this script.

Run: python examples/make_scenarios.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent / "scenarios"

HEAD = '''"""simfleet demo scenario {key}: {about}."""

import json
import os
import time

IO = os.environ.get("SIMFLEET_IO", ".")
started = time.monotonic()
print("scenario {key}: {about}", flush=True)
'''

TAIL = """print(f"scenario {key}: value {{value}} in {{time.monotonic() - started:.2f}} s")
os.makedirs(os.path.join(IO, "results"), exist_ok=True)
with open(os.path.join(IO, "results", "result.json"), "w") as out:
    json.dump({{"scenario": "{key}", "value": value}}, out)
"""

# kind -> (what it computes, body that sets `value` from the parameter n, parameters)
KINDS: dict[str, tuple[str, str, list[int]]] = {
    "primes": (
        "count the primes below {n}",
        "n = {n}\n"
        "sieve = bytearray([1]) * n\n"
        'sieve[0:2] = b"\\x00\\x00"\n'
        "for i in range(2, int(n**0.5) + 1):\n"
        "    if sieve[i]:\n"
        "        sieve[i * i :: i] = bytearray(len(range(i * i, n, i)))\n"
        "value = sum(sieve)\n",
        [10_000 * k for k in range(1, 11)],
    ),
    "collatz": (
        "the longest Collatz chain starting below {n}",
        "value = 0\n"
        "for start in range(1, {n}):\n"
        "    x, steps = start, 0\n"
        "    while x != 1:\n"
        "        x, steps = (x // 2 if x % 2 == 0 else 3 * x + 1), steps + 1\n"
        "    value = max(value, steps)\n",
        [1_000 * k for k in (1, 2, 3, 5, 8, 13, 21, 34, 55, 89)],
    ),
    "factorial": (
        "the digit sum of {n}!",
        "import math\n\nvalue = sum(int(d) for d in str(math.factorial({n})))\n",
        [100 * k for k in range(1, 11)],
    ),
    "fibonacci": (
        "Fibonacci number {n} modulo 1,000,000,007",
        "a, b = 0, 1\nfor _ in range({n}):\n    a, b = b, (a + b) % 1_000_000_007\nvalue = a\n",
        [50_000 * k for k in range(1, 11)],
    ),
    "montecarlo": (
        "points of 200,000 seeded random ones (seed {n}) inside the unit circle",
        "import random\n\n"
        "rng = random.Random({n})\n"
        "value = sum(1 for _ in range(200_000) if rng.random() ** 2 + rng.random() ** 2 <= 1)\n",
        list(range(1, 6)),
    ),
}
# The longer ones: a small sum after a sleep, as a long simulation would take its time.
SLOW_SECONDS = [8, 12, 16, 20]

BROKEN = '''"""simfleet demo scenario broken/bad-input.py: fails on purpose, to show a failure."""

import sys

print("scenario broken/bad-input.py: reading a parameter that is not there", flush=True)
print("error: parameter 'mesh_size' is missing from the scenario", file=sys.stderr)
sys.exit(2)
'''


def scenarios() -> dict[str, str]:
    """Scenario key (path under scenarios/) -> file text."""
    files: dict[str, str] = {}
    for kind, (about, body, params) in KINDS.items():
        for number, n in enumerate(params, start=1):
            key = f"{kind}/{kind}-{number:02d}.py"
            text = HEAD.format(key=key, about=about.format(n=f"{n:,}"))
            files[key] = text + body.format(n=n) + TAIL.format(key=key)
    for number, seconds in enumerate(SLOW_SECONDS, start=1):
        key = f"slow/slow-{number:02d}.py"
        text = HEAD.format(key=key, about=f"a long one: {seconds} s, then the sum 1..{seconds}")
        body = f"time.sleep({seconds})\nvalue = sum(range(1, {seconds} + 1))\n"
        files[key] = text + body + TAIL.format(key=key)
    files["broken/bad-input.py"] = BROKEN
    return files


def main() -> None:
    if HERE.exists():
        shutil.rmtree(HERE)
    for key, text in scenarios().items():
        path = HERE / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(scenarios())} scenarios to {HERE}")


if __name__ == "__main__":
    main()
