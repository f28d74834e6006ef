"""Reducers: fold each finished scenario into a running value, one outcome at a time.

A reducer keeps a constant-size state in fields of the run's reduced hash in Redis and turns
one outcome into a few field updates (Op: add, add a float, keep the smaller or larger, set).
runstate applies an outcome's updates together with recording the outcome in one Lua script,
so a fold costs the same for the first job of a run as for the 100,000th, and concurrent folds
on different hosts never lose each other's update.

- count, sum, mean, min, max: counters and extremes, updated in place.
- concat: keeps nothing in Redis; each part is the scenario's result, already in the results
  place, and the value is assembled once from there when the summary is made.
- python:MODULE:FUNCTION: fn(acc, result) -> acc. Its state is one JSON value, small by
  contract (it is rewritten on every fold); runstate steps it under a per-run lock key.

Only succeeded scenarios feed the value reducers; `count` counts every status.
"""

from __future__ import annotations

import importlib
import json
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from glue.errors import GlueError

USAGE = "use sum:FIELD, mean:FIELD, min:FIELD, max:FIELD, count, concat or python:MODULE:FUNCTION"
SUCCEEDED = "succeeded"
# Separates a reducer's spec from the name of one of its fields ("count|failed").
SEP = "|"


class UnknownReducer(GlueError):
    """A --reduce spec that names no reducer."""


class Skip(Exception):
    """A result the reducer cannot use (no such field, not a number); noted, not fatal."""


@dataclass(frozen=True)
class Op:
    """One update of a field of the reduced hash: add (HINCRBY), addf (HINCRBYFLOAT),
    min/max (keep the smaller/larger number) or set."""

    kind: str
    field: str
    value: str


def field_value(result: Any, path: str) -> float:
    """The number at a dotted path in a result ("metrics.loss")."""
    value = result
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise Skip(f"no field {path!r}")
        value = value[part]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Skip(f"field {path!r} is not a number: {value!r}")
    if not math.isfinite(value):
        raise Skip(f"field {path!r} is not a finite number: {value!r}")
    return value


def number(text: str | bytes | None) -> int | float | None:
    """A number as Redis stores it ("3", "2.5"), back as int or float."""
    if text is None:
        return None
    text = text.decode() if isinstance(text, bytes) else text
    try:
        return int(text)
    except ValueError:
        return float(text)


def _no_ops(status: str) -> list[Op]:
    return []


@dataclass(frozen=True)
class Reducer:
    """One parsed --reduce spec; `spec` is also its key in the run summary.

    ops(status, result) gives the updates one outcome makes (raising Skip for a result it
    cannot use); final(fields, parts) reads the value back from the reduced hash (and, for
    concat, the succeeded scenarios' results). step, for python: reducers only, folds one
    result into the JSON state kept in the field named by the spec. reopen(status) undoes an
    outcome that a rerun takes back (only `count` saw non-succeeded outcomes)."""

    spec: str
    ops: Callable[[str, Any], list[Op]]
    final: Callable[[Mapping[str, str], Callable[[], list[Any]]], Any]
    step: Callable[[Any, Any], Any] | None = None
    reopen: Callable[[str], list[Op]] = field(default=_no_ops)
    parts: bool = False


def _value_ops(fn: Callable[[Any], list[Op]]) -> Callable[[str, Any], list[Op]]:
    """Value reducers see succeeded results only."""
    return lambda status, result: fn(result) if status == SUCCEEDED else []


def _sum(spec: str, path: str) -> Reducer:
    return Reducer(
        spec,
        _value_ops(lambda result: [Op("addf", spec, repr(field_value(result, path)))]),
        lambda fields, parts: number(fields.get(spec)) or 0,
    )


def _extreme(spec: str, path: str, kind: str) -> Reducer:
    return Reducer(
        spec,
        _value_ops(lambda result: [Op(kind, spec, repr(field_value(result, path)))]),
        lambda fields, parts: number(fields.get(spec)),
    )


def _mean(spec: str, path: str) -> Reducer:
    total, n = spec + SEP + "sum", spec + SEP + "n"

    def final(fields: Mapping[str, str], parts) -> float | None:
        count = number(fields.get(n)) or 0
        return (number(fields.get(total)) or 0) / count if count else None

    return Reducer(
        spec,
        _value_ops(
            lambda result: [
                Op("addf", total, repr(field_value(result, path))),
                Op("add", n, "1"),
            ]
        ),
        final,
    )


def _count(spec: str) -> Reducer:
    prefix = spec + SEP

    def final(fields: Mapping[str, str], parts) -> dict[str, int]:
        counts = {k[len(prefix) :]: int(v) for k, v in fields.items() if k.startswith(prefix)}
        return dict(sorted((k, v) for k, v in counts.items() if v))

    return Reducer(
        spec,
        lambda status, result: [Op("add", prefix + status, "1")],
        final,
        reopen=lambda status: [Op("add", prefix + status, "-1")],
    )


def _concat(spec: str) -> Reducer:
    """Results in scenario order whatever order jobs finished in; list results are spliced."""

    def final(fields: Mapping[str, str], parts: Callable[[], list[Any]]) -> list:
        out: list = []
        for value in parts():
            out.extend(value if isinstance(value, list) else [value])
        return out

    return Reducer(spec, lambda status, result: [], final, parts=True)


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

    def final(fields: Mapping[str, str], parts) -> Any:
        raw = fields.get(spec)
        return json.loads(raw) if raw is not None else None

    return Reducer(spec, lambda status, result: [], final, step=fn)


def apply(fields: dict[str, str], op: Op) -> None:
    """One update on a dict of strings, as runstate's fold script makes it in Redis."""
    old, new = number(fields.get(op.field)), number(op.value) if op.kind != "set" else None
    if op.kind in ("add", "addf"):
        fields[op.field] = str((old or 0) + new)
        return
    smaller = op.kind == "min" and old is not None and new < old
    larger = op.kind == "max" and old is not None and new > old
    if op.kind == "set" or old is None or smaller or larger:
        fields[op.field] = op.value


def fold_one(reducer: Reducer, status: str, result: Any) -> Any:
    """The value of a run of this one outcome, folded in memory (`glue image test`'s trial);
    raises Skip like a fold in Redis would note it."""
    fields: dict[str, str] = {}
    if reducer.step is not None:
        if status == SUCCEEDED:
            fields[reducer.spec] = json.dumps(reducer.step(None, result))
    else:
        for op in reducer.ops(status, result):
            apply(fields, op)
    return reducer.final(fields, lambda: [result] if status == SUCCEEDED else [])


def parse(spec: str) -> Reducer:
    kind, _, arg = spec.partition(":")
    if SEP in spec:
        raise UnknownReducer(f"unknown reducer {spec!r}: {SEP!r} is not allowed in a reducer")
    if kind == "count" and not arg:
        return _count(spec)
    if kind == "concat" and not arg:
        return _concat(spec)
    if kind == "python" and arg:
        return _python(spec, arg)
    if arg and kind == "sum":
        return _sum(spec, arg)
    if arg and kind in ("min", "max"):
        return _extreme(spec, arg, kind)
    if arg and kind == "mean":
        return _mean(spec, arg)
    raise UnknownReducer(f"unknown reducer {spec!r}: {USAGE}")


def parse_all(specs: list[str]) -> list[Reducer]:
    if not specs:
        raise UnknownReducer(f"no reducer given: {USAGE}")
    if len(set(specs)) != len(specs):
        raise UnknownReducer(f"a reducer is given twice in {', '.join(specs)}")
    return [parse(spec) for spec in specs]
