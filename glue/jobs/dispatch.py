"""What dispatch cost a run, from its jobs' start and end on each host and slot.

- The idle gap on a slot: from the end of one job to the start of the next one on the same
  slot. It is what glue spends between jobs (fetching the next job, setting up its io-dir,
  uploading and folding the last one), so a user sees the dispatch cost of their own run.
- The lower bound of the makespan: no schedule on these slots ends before the longest job, or
  before the total work spread evenly over every slot. The makespan next to it shows what
  the order of the jobs cost (see order.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any


def _seconds(job: Mapping[str, Any]) -> tuple[float, float] | None:
    start, end = job.get("start"), job.get("end")
    if not start or not end:
        return None
    return datetime.fromisoformat(start).timestamp(), datetime.fromisoformat(end).timestamp()


def summarize(jobs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Idle gaps per slot (`host/slot` -> jobs, mean and max in seconds), over all slots, and
    the makespan's lower bound (seconds)."""
    lanes: dict[str, list[tuple[float, float]]] = {}
    for job in jobs:
        times = _seconds(job)
        if times is not None:
            lanes.setdefault(f"{job.get('host') or '?'}/{job.get('slot')}", []).append(times)
    slots: dict[str, dict[str, Any]] = {}
    every: list[float] = []
    work, longest = 0.0, 0.0
    for lane, spans in sorted(lanes.items()):
        spans.sort()
        gaps = [max(0.0, b[0] - a[1]) for a, b in itertools.pairwise(spans)]
        every += gaps
        work += sum(end - start for start, end in spans)
        longest = max([longest, *(end - start for start, end in spans)])
        slots[lane] = {
            "jobs": len(spans),
            "gap_mean": round(sum(gaps) / len(gaps), 4) if gaps else None,
            "gap_max": round(max(gaps), 4) if gaps else None,
        }
    return {
        "slots": slots,
        "gap_mean": round(sum(every) / len(every), 4) if every else None,
        "gap_max": round(max(every), 4) if every else None,
        "lower_bound": round(max(longest, work / len(lanes)), 3) if lanes else None,
    }
