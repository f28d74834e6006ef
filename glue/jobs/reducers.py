"""Reducers: fold each finished scenario into a running value, one outcome at a time.

A reducer is three pure functions over JSON values: initial() gives the empty state,
step(state, scenario, status, result) folds one outcome in, final(state) gives the answer.
Keeping the state JSON lets runstate store it in Redis between jobs and update it inside a
transaction, so results are reduced while the run is still going, on whichever host finishes.

Only succeeded scenarios feed the value reducers; `count` counts every status.
"""

from __future__ import annotations

import importlib
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from glue.errors import GlueError

USAGE = "use sum:FIELD, mean:FIELD, min:FIELD, max:FIELD, count, concat or python:MODULE:FUNCTION"
SUCCEEDED = "succeeded"


class UnknownReducer(GlueError):
    """A --reduce spec that names no reducer."""


class Skip(Exception):
    """A result the reducer cannot use (no such field, not a number); noted, not fatal."""


def field_value(result: Any, path: str) -> float:
    """The number at a dotted path in a result ("metrics.loss")."""
    value = result
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise Skip(f"no field {path!r}")
        value = value[part]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Skip(f"field {path!r} is not a number: {value!r}")
    return value


@dataclass(frozen=True)
class Reducer:
    """One parsed --reduce spec; `spec` is also its key in the run summary."""

    spec: str
    initial: Callable[[], Any]
    step: Callable[[Any, str, str, Any], Any]
    final: Callable[[Any], Any]


def _numeric(spec: str, path: str, fold: Callable[[Any, float], Any], start: Any) -> Reducer:
    def step(state: Any, scenario: str, status: str, result: Any) -> Any:
        if status != SUCCEEDED:
            return state
        return fold(state, field_value(result, path))

    return Reducer(spec, lambda: start, step, lambda s: s)


def _mean(spec: str, path: str) -> Reducer:
    def step(state: dict, scenario: str, status: str, result: Any) -> dict:
        if status != SUCCEEDED:
            return state
        value = field_value(result, path)
        return {"sum": state["sum"] + value, "n": state["n"] + 1}

    return Reducer(
        spec,
        lambda: {"sum": 0, "n": 0},
        step,
        lambda s: s["sum"] / s["n"] if s["n"] else None,
    )


def _count(spec: str) -> Reducer:
    def step(state: dict, scenario: str, status: str, result: Any) -> dict:
        return {**state, status: state.get(status, 0) + 1}

    return Reducer(spec, dict, step, lambda s: dict(sorted(s.items())))


def _concat(spec: str) -> Reducer:
    """Results in scenario order whatever order jobs finished in; list results are spliced."""

    def step(state: dict, scenario: str, status: str, result: Any) -> dict:
        return {**state, scenario: result} if status == SUCCEEDED else state

    def final(state: dict) -> list:
        out: list = []
        for scenario in sorted(state):
            value = state[scenario]
            out.extend(value if isinstance(value, list) else [value])
        return out

    return Reducer(spec, dict, step, final)


def _python(spec: str, target: str) -> Reducer:
    """fn(acc, result) -> acc, acc None at first; folded in finishing order, so it should not
    depend on order (like sum or max)."""
    module_name, _, func_name = target.rpartition(":")
    if not module_name or not func_name:
        raise UnknownReducer(f"unknown reducer {spec!r}: {USAGE}")
    try:
        fn = getattr(importlib.import_module(module_name), func_name)
    except ImportError as exc:
        raise UnknownReducer(
            f"unknown reducer {spec!r}: cannot import {module_name}: {exc}"
        ) from None
    except AttributeError:
        raise UnknownReducer(
            f"unknown reducer {spec!r}: {module_name} has no {func_name}"
        ) from None
    if not callable(fn):
        raise UnknownReducer(f"unknown reducer {spec!r}: {target} is not a function")

    def step(state: Any, scenario: str, status: str, result: Any) -> Any:
        return fn(state, result) if status == SUCCEEDED else state

    return Reducer(spec, lambda: None, step, lambda s: s)


def parse(spec: str) -> Reducer:
    kind, _, arg = spec.partition(":")
    if kind == "count" and not arg:
        return _count(spec)
    if kind == "concat" and not arg:
        return _concat(spec)
    if kind == "python" and arg:
        return _python(spec, arg)
    if arg and kind == "sum":
        return _numeric(spec, arg, lambda s, v: s + v, 0)
    if arg and kind == "min":
        return _numeric(spec, arg, lambda s, v: v if s is None else min(s, v), None)
    if arg and kind == "max":
        return _numeric(spec, arg, lambda s, v: v if s is None else max(s, v), None)
    if arg and kind == "mean":
        return _mean(spec, arg)
    raise UnknownReducer(f"unknown reducer {spec!r}: {USAGE}")


def parse_all(specs: list[str]) -> list[Reducer]:
    if not specs:
        raise UnknownReducer(f"no reducer given: {USAGE}")
    if len(set(specs)) != len(specs):
        raise UnknownReducer(f"a reducer is given twice in {', '.join(specs)}")
    return [parse(spec) for spec in specs]
