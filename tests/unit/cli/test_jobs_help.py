"""`glue run / worker / status / result --help` document every option."""

from __future__ import annotations

import argparse

import pytest

from glue.cli.main import build_parser

COMMANDS = ("run", "worker", "status", "result")


def subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_and_argument_has_help(name: str) -> None:
    parser = subparser(name)
    assert parser.description
    for action in parser._actions:
        assert action.help and action.help != argparse.SUPPRESS, action.dest


@pytest.mark.parametrize("name", COMMANDS)
def test_help_prints_and_exits_zero(name: str, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([name, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: glue {name}")
    assert "--redis-url" in out and "--config" in out
