"""A python:MODULE:FUNCTION reducer for the tests; workers import it from the repository."""


def squares(acc, result):
    return (acc or 0) + result["value"] ** 2
