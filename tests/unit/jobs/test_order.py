"""Longest first (order.py), hint files, and the dispatch figures of a summary (dispatch.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from glue.errors import GlueError
from glue.jobs import dispatch, history, order
from glue.jobs.locations import LocalFolder

pytestmark = pytest.mark.unit
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_known_longest_first_then_the_unknown_in_listing_order() -> None:
    keys = ["a", "b", "c", "d", "e"]
    contents = {"a": "1:x", "b": "1:y", "c": "1:z", "e": "1:y"}
    planned = order.plan(keys, contents, {"1:x": 3.0, "1:y": 9.0}, {"d": 5.0, "a": 100.0})
    assert [(p.scenario, p.expected, p.basis) for p in planned] == [
        ("b", 9.0, "history"),
        ("e", 9.0, "history"),  # the same content as b: the same history
        ("d", 5.0, "hint"),
        ("a", 3.0, "history"),  # history wins over a hint
        ("c", None, None),
    ]
    listed = order.plan(keys, contents, {"1:x": 3.0}, {}, order.LISTING)
    assert [p.scenario for p in listed] == keys and listed[0].expected == 3.0
    assert order.describe(planned, order.EXPECTED) == (
        "3 expected from history, 1 from hints, 1 unknown; queued longest expected first"
    )


@pytest.mark.parametrize(
    "text",
    ['{"a.py": 2, "b/c.py": 0.5}', "a.py,2\nb/c.py,0.5\n", "scenario,seconds\na.py,2\n\nb/c.py,.5"],
)
def test_hint_files_json_or_csv(tmp_path: Path, text: str) -> None:
    path = tmp_path / "hints"
    path.write_text(text)
    assert order.read_hints(str(path)) == {"a.py": 2.0, "b/c.py": 0.5}


@pytest.mark.parametrize(
    "text, why",
    [
        ('{"a.py": "x"}', "'x' is not a number of seconds"),
        ('{"a.py": true}', "True is not a number of seconds"),
        ('{"a.py": ', "is not JSON"),
        ("a.py,nan\n", "'nan' is not a number of seconds (0 or more)"),
        ("a.py,1\nb.py\n", ":2: expected `scenario,seconds`, got 1 fields"),
    ],
)
def test_bad_hint_files_name_the_problem(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "hints"
    path.write_text(text)
    with pytest.raises(GlueError, match=None) as caught:
        order.read_hints(str(path))
    assert why in str(caught.value)


def test_local_content_ids_change_with_the_content(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("print(1)\n")
    (tmp_path / "b.py").write_text("print(1)\n")
    folder = LocalFolder(str(tmp_path))
    first = folder.content_ids(["a.py", "b.py", "gone.py"])
    assert first["a.py"] == first["b.py"] and first["a.py"].startswith("9:")
    assert "gone.py" not in first
    (tmp_path / "a.py").write_text("print(2)\n")  # same size, other content
    assert folder.content_ids(["a.py"])["a.py"] != first["a.py"]
    # A job's fetched copy has the id its source file has (a first run's jobs hash their own).
    (tmp_path / "copy").write_text("print(1)\n")
    assert folder.content_of(tmp_path / "copy") == first["b.py"]


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def test_gaps_per_slot_and_lower_bound() -> None:
    jobs = [
        {"host": "n1", "slot": 1, "start": at(0), "end": at(4)},
        {"host": "n1", "slot": 1, "start": at(4.5), "end": at(6)},
        {"host": "n1", "slot": 1, "start": at(7.5), "end": at(8)},
        {"host": "n1", "slot": 2, "start": at(0), "end": at(1)},
        {"host": "n1", "slot": 2, "start": None, "end": at(1)},  # never started: not counted
    ]
    got = dispatch.summarize(jobs)
    assert got["slots"] == {
        "n1/1": {"jobs": 3, "gap_mean": 1.0, "gap_max": 1.5},
        "n1/2": {"jobs": 1, "gap_mean": None, "gap_max": None},
    }
    assert (got["gap_mean"], got["gap_max"]) == (1.0, 1.5)
    assert got["lower_bound"] == 4.0  # max(longest 4 s, 7 s of work / 2 slots)
    assert dispatch.summarize([])["lower_bound"] is None


def test_duration_of_an_outcome() -> None:
    assert history.duration_of({"start": at(1), "end": at(3.5)}) == 2.5
    assert history.duration_of({"start": None, "end": at(3.5)}) is None
    assert history.duration_of({"start": at(4), "end": at(3)}) is None
