"""python:MODULE:FUNCTION reducers for the tests; workers import them from the repository."""

from decimal import Decimal


def squares(acc, result):
    return (acc or 0) + result["value"] ** 2


def as_set(acc, result):
    """A state JSON cannot hold: its jobs must be recorded as error, not lost."""
    return (acc or set()) | {result["value"]}


def as_decimal(acc, result):
    """Like a numpy number: a number json.dumps refuses."""
    return Decimal(result["value"])
