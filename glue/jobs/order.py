"""The order a run's scenarios are queued in: longest expected first (LPT).

RQ queues are first in, first out, so the enqueue order is the order slots pick jobs up. With
the long scenarios listed last they start last and the run ends long after the fleet could
have; started first, they overlap with the many short ones. The expected duration of a
scenario comes from the queue's history of its content (history.py), else from a hint file
(`--durations FILE`), else it is unknown: unknown scenarios follow the known ones, in listing
order. `--order listing` keeps the listing's order (each job still carries what was expected).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from glue.errors import GlueError

EXPECTED, LISTING = "expected", "listing"
ORDERS = (EXPECTED, LISTING)
HISTORY, HINT = "history", "hint"


class Planned(NamedTuple):
    scenario: str
    expected: float | None  # seconds
    basis: str | None  # where `expected` came from: history or hint


def _seconds(value: object, where: str) -> float:
    if isinstance(value, bool):
        raise GlueError(f"{where}: {value!r} is not a number of seconds")
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise GlueError(f"{where}: {value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise GlueError(f"{where}: {value!r} is not a number of seconds (0 or more)")
    return seconds


def read_hints(path: str) -> dict[str, float]:
    """A hint file: scenario -> seconds, as a JSON object or CSV rows `scenario,seconds`
    (a header row is allowed)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise GlueError(f"cannot read durations file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise GlueError(f"durations file {path} is not text") from None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise GlueError(f"durations file {path} is not JSON: {exc}") from None
        return {str(k): _seconds(v, f"{path}: {k!r}") for k, v in data.items()}
    hints = {}
    for number, row in enumerate(csv.reader(text.splitlines()), 1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise GlueError(f"{path}:{number}: expected `scenario,seconds`, got {len(row)} fields")
        scenario, value = row[0].strip(), row[1].strip()
        if number == 1 and not _is_number(value):
            continue  # a header
        hints[scenario] = _seconds(value, f"{path}:{number}")
    return hints


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def plan(
    scenarios: Sequence[str],
    contents: Mapping[str, str],
    history: Mapping[str, float],
    hints: Mapping[str, float],
    order: str = EXPECTED,
) -> list[Planned]:
    """Each scenario with its expected duration, in the order they should be queued.

    `contents` maps a scenario to its content id, `history` a content id to seconds."""
    planned = []
    for scenario in scenarios:
        content = contents.get(scenario)
        if content is not None and content in history:
            planned.append(Planned(scenario, history[content], HISTORY))
        elif scenario in hints:
            planned.append(Planned(scenario, hints[scenario], HINT))
        else:
            planned.append(Planned(scenario, None, None))
    if order == LISTING:
        return planned
    # sorted() is stable: equal expectations and all the unknown keep the listing's order.
    return sorted(planned, key=lambda p: (p.expected is None, -(p.expected or 0.0)))


def describe(planned: Sequence[Planned], order: str) -> str:
    """One line on where the expected durations came from and the order chosen."""
    bases = [p.basis for p in planned]
    known = f"{bases.count(HISTORY)} expected from history, {bases.count(HINT)} from hints, "
    known += f"{bases.count(None)} unknown"
    if order == LISTING:
        how = "in listing order"
    elif bases.count(None) == len(bases):
        how = "in listing order, since none has a duration yet"
    else:
        how = "longest expected first"
    return f"{known}; queued {how}"
