"""Reducers fold outcomes one at a time into the same values a direct computation gives."""

from __future__ import annotations

import json
import statistics

import pytest

from glue.jobs.reducers import Skip, UnknownReducer, apply, fold_one, parse, parse_all

OUTCOMES = [
    ("b.py", "succeeded", {"value": 4, "m": {"loss": 0.5}}),
    ("a.py", "succeeded", {"value": -2.5, "m": {"loss": 0.25}}),
    ("c.py", "failed", None),
    ("d.py", "succeeded", {"value": 10, "m": {"loss": 1.0}}),
    ("e.py", "timed_out", None),
]
VALUES = [r["value"] for _, s, r in OUTCOMES if s == "succeeded"]


def fold(spec: str, outcomes=OUTCOMES):
    """Fold like runstate does: each outcome becomes updates of string fields; a python:
    reducer's state goes through JSON between every step; concat reads its parts at the end."""
    reducer = parse(spec)
    fields: dict[str, str] = {}
    for _scenario, status, result in outcomes:
        if reducer.step is not None:
            if status == "succeeded":
                state = json.loads(fields[spec]) if spec in fields else None
                fields[spec] = json.dumps(reducer.step(state, result))
            continue
        for op in reducer.ops(status, result):
            apply(fields, op)
    parts = [r for _, s, r in sorted(outcomes) if s == "succeeded"]
    return reducer.final(fields, lambda: parts)


def test_sum_mean_min_max_equal_direct_computation() -> None:
    assert fold("sum:value") == sum(VALUES)
    assert fold("mean:value") == pytest.approx(statistics.mean(VALUES))
    assert fold("min:value") == min(VALUES)
    assert fold("max:value") == max(VALUES)


def test_a_dotted_field_reaches_into_nested_results() -> None:
    assert fold("sum:m.loss") == pytest.approx(1.75)


def test_count_counts_every_status() -> None:
    assert fold("count") == {"failed": 1, "succeeded": 3, "timed_out": 1}


def test_concat_lists_results_in_scenario_order_and_splices_lists() -> None:
    outcomes = [("z.py", "succeeded", [3, 4]), ("y.py", "succeeded", {"k": 1}), *OUTCOMES]
    assert fold("concat", outcomes) == [
        {"value": -2.5, "m": {"loss": 0.25}},
        {"value": 4, "m": {"loss": 0.5}},
        {"value": 10, "m": {"loss": 1.0}},
        {"k": 1},
        3,
        4,
    ]


def test_empty_runs_reduce_to_neutral_values() -> None:
    failed_only = [("x.py", "failed", None)]
    assert fold("sum:value", failed_only) == 0
    assert fold("mean:value", failed_only) is None
    assert fold("max:value", failed_only) is None
    assert fold("concat", failed_only) == []


def test_python_reducer_gets_acc_and_result(tmp_path, monkeypatch) -> None:
    (tmp_path / "myfold.py").write_text(
        "def squares(acc, result):\n    return (acc or 0) + result['value'] ** 2\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert fold("python:myfold:squares") == sum(v * v for v in VALUES)


@pytest.mark.parametrize(
    "result, why",
    [({"other": 1}, "no field 'value'"), ({"value": "7"}, "not a number"), (None, "no field")],
)
def test_a_result_without_a_numeric_field_is_skipped_with_a_reason(result, why) -> None:
    with pytest.raises(Skip, match=why):
        parse("sum:value").ops("succeeded", result)


@pytest.mark.parametrize(
    "spec",
    ["avg:value", "sum", "sum:", "count:value", "concat:x", "python:nomodule_xyz:f", "python:f"],
)
def test_unknown_reducers_are_refused_by_name(spec) -> None:
    with pytest.raises(UnknownReducer, match="unknown reducer"):
        parse(spec)


def test_python_reducer_must_name_a_function() -> None:
    with pytest.raises(UnknownReducer, match="json has no nothere"):
        parse("python:json:nothere")


def test_parse_all_refuses_none_and_duplicates() -> None:
    with pytest.raises(UnknownReducer, match="no reducer"):
        parse_all([])
    with pytest.raises(UnknownReducer, match="twice"):
        parse_all(["count", "count"])


def test_count_takes_back_a_reopened_status() -> None:
    fields: dict[str, str] = {}
    reducer = parse("count")
    for op in [*reducer.ops("error", None), *reducer.ops("succeeded", 1), *reducer.reopen("error")]:
        apply(fields, op)
    assert reducer.final(fields, list) == {"succeeded": 1}


def test_value_reducers_refuse_infinite_numbers() -> None:
    with pytest.raises(Skip, match="finite"):
        parse("max:value").ops("succeeded", {"value": float("inf")})


def test_one_outcome_folds_in_memory_like_a_run_of_one() -> None:
    assert fold_one(parse("sum:value"), "succeeded", {"value": 3}) == 3
    assert fold_one(parse("count"), "failed", None) == {"failed": 1}
    assert fold_one(parse("concat"), "succeeded", [1, 2]) == [1, 2]
    assert fold_one(parse("mean:value"), "failed", None) is None
