"""`glue run --rerun` is checked before anything is contacted; `glue runs` documents itself."""

from __future__ import annotations

import argparse

import pytest

from glue.cli import main as cli
from glue.cli.main import build_parser


@pytest.mark.parametrize(
    "statuses, why",
    [
        ("succeeded", "succeeded scenarios are not rerun"),
        ("error,succeeded", "succeeded scenarios are not rerun"),
        ("bogus", "give one or more of error, failed, timed_out, lost, stopped"),
        (",", "give one or more of"),
    ],
)
def test_a_bad_rerun_is_one_line_before_any_redis(tmp_path, capsys, statuses, why) -> None:
    (tmp_path / "a.py").write_text("")
    # Nothing listens on port 1: reaching Redis would be a different error.
    code = cli.main(
        [
            "run",
            str(tmp_path),
            "--run-id",
            "r",
            "--rerun",
            statuses,
            "--redis-url",
            "redis://127.0.0.1:1/0",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and why in err, err


def test_runs_and_runs_delete_document_every_option() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    runs = sub.choices["runs"]
    actions = next(a for a in runs._actions if isinstance(a, argparse._SubParsersAction))
    for parser in (runs, actions.choices["delete"]):
        assert parser.description
        for action in parser._actions:
            assert action.help and action.help != argparse.SUPPRESS, action.dest


def test_run_keep_days_must_be_positive(tmp_path, capsys) -> None:
    code = cli.main(["run", str(tmp_path), "--run-id", "r", "--run-keep-days", "0", "--dry-run"])
    assert code == 1
    assert capsys.readouterr().err.strip() == "glue: error: run_keep_days must be positive, not 0.0"
