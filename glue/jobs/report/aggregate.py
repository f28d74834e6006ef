"""The timeline of a big run: each lane's jobs merged into a bounded number of bars.

100,000 jobs on a few dozen slots are far more bars than pixels: drawn one by one they make a
page no browser opens and a chart that takes minutes. Instead each lane is cut into equal
time bins (fewer the more lanes there are, BAR_BUDGET in all), each bin takes the status that
kept it busy longest, and neighbouring bins of the same status become one bar. Bins where
anything went wrong (failed, timed out, lost, error) also get a bar of their own on top,
drawn loud, so one failure among thousands of successes still shows. The PNG and the page's
SVG are drawn from these same bars.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

BAR_BUDGET = 4000  # bins over all lanes; merged bars are usually far fewer
MIN_BINS, MAX_BINS = 40, 600


@dataclass(frozen=True)
class Span:
    """One job's time on a lane, in seconds since the run started (end: up to the right edge
    if it has not ended)."""

    lane: int
    start: float
    end: float | None
    status: str


@dataclass(frozen=True)
class Segment:
    """Neighbouring bins of a lane with the same status: one bar of the aggregated timeline."""

    lane: int
    start: float
    end: float
    status: str
    jobs: int  # jobs that started in it
    busy: float  # share of the segment's lane-time spent running jobs (0..1)
    loud: bool


def bins_per_lane(lanes: int) -> int:
    return max(MIN_BINS, min(MAX_BINS, BAR_BUDGET // max(lanes, 1)))


def segments(
    spans: Sequence[Span], lanes: int, right: float, is_loud: Callable[[str], bool]
) -> list[Segment]:
    """The merged bars of every lane: the busiest status per bin, then the loud ones on top."""
    count = bins_per_lane(lanes)
    width = (right or 1.0) / count
    busy: list[list[dict[str, float]]] = [[{} for _ in range(count)] for _ in range(lanes)]
    starts: list[list[dict[str, int]]] = [[{} for _ in range(count)] for _ in range(lanes)]
    for span in spans:
        end = right if span.end is None else span.end
        first = min(count - 1, int(span.start / width))
        last = min(count - 1, max(first, math.ceil(end / width) - 1))
        bins = busy[span.lane]
        for b in range(first, last + 1):
            overlap = min(end, (b + 1) * width) - max(span.start, b * width)
            # A job shorter than its bin still counts, so it cannot vanish from the chart.
            cell = bins[b]
            cell[span.status] = cell.get(span.status, 0.0) + max(overlap, 1e-9)
        cell = starts[span.lane][first]
        cell[span.status] = cell.get(span.status, 0) + 1
    out: list[Segment] = []
    for lane in range(lanes):
        base = [max(cell, key=cell.get) if cell else None for cell in busy[lane]]
        loud = [_loudest(cell, is_loud) for cell in busy[lane]]
        out += _merge(lane, base, busy[lane], starts[lane], width, loud=False)
        out += _merge(lane, loud, busy[lane], starts[lane], width, loud=True)
    return out


def _loudest(cell: dict[str, float], is_loud: Callable[[str], bool]) -> str | None:
    loud = {s: t for s, t in cell.items() if is_loud(s)}
    return max(loud, key=loud.get) if loud else None


def _merge(
    lane: int,
    statuses: list[str | None],
    busy: list[dict[str, float]],
    starts: list[dict[str, int]],
    width: float,
    loud: bool,
) -> list[Segment]:
    out = []
    b = 0
    while b < len(statuses):
        status = statuses[b]
        if status is None:
            b += 1
            continue
        first = b
        while b < len(statuses) and statuses[b] == status:
            b += 1
        cells = range(first, b)
        if loud:  # the loud bar counts only the jobs that went wrong
            jobs = sum(starts[c].get(status, 0) for c in cells)
            time = sum(busy[c].get(status, 0.0) for c in cells)
        else:
            jobs = sum(sum(starts[c].values()) for c in cells)
            time = sum(sum(busy[c].values()) for c in cells)
        out.append(
            Segment(
                lane,
                first * width,
                b * width,
                status,
                jobs,
                min(1.0, time / ((b - first) * width)),
                loud,
            )
        )
    return out
