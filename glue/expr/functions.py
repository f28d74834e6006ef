"""The functions file of a task expression: its public functions are the expression's tasks.

A task takes no arguments and returns its value (anything JSON can hold), or a string, which
is a shell command to run on the worker; then the value is what the command wrote to
$SIMFLEET_IO/results/result.json, or else its standard output parsed as JSON. The file travels
with each job as source text, so workers need no shared folder and no install step.
"""

from __future__ import annotations

import inspect
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glue.errors import GlueError


class FunctionFileError(GlueError):
    """The tasks file cannot be read or loaded."""


@dataclass(frozen=True)
class FunctionFile:
    source: str
    filename: str

    @classmethod
    def read(cls, path: str) -> FunctionFile:
        try:
            source = Path(path).read_text()
        except OSError as exc:
            raise FunctionFileError(f"cannot read tasks file {path}: {exc.strerror}") from None
        tasks = cls(source, str(path))
        tasks.functions()  # fail here, on the submitting side, rather than on a worker
        return tasks

    def functions(self) -> dict[str, Any]:
        """The file's tasks: functions defined in it whose names do not start with '_'."""
        module = types.ModuleType("simfleet_tasks")
        module.__file__ = self.filename
        try:
            exec(compile(self.source, self.filename, "exec"), module.__dict__)
        except SyntaxError as exc:
            raise FunctionFileError(
                f"tasks file {self.filename} line {exc.lineno}: {exc.msg}"
            ) from None
        except Exception as exc:
            raise FunctionFileError(
                f"tasks file {self.filename} failed to load: {type(exc).__name__}: {exc}"
            ) from None
        return {
            name: fn
            for name, fn in vars(module).items()
            if inspect.isfunction(fn) and fn.__module__ == module.__name__ and name[0] != "_"
        }
