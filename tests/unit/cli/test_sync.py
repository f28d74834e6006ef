"""glue.cli.sync: filter order on the command line, and the progress bar only on a terminal."""

from __future__ import annotations

import io

from glue.cli.main import build_parser
from glue.cli.sync import Printer


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_include_and_exclude_keep_their_command_line_order() -> None:
    args = build_parser().parse_args(
        ["sync", "--exclude", "*", "--include", "*.py", "--exclude", "t/*", "s3://abc", "d"]
    )
    assert args.filters == [(False, "*"), (True, "*.py"), (False, "t/*")]


def test_progress_is_drawn_on_a_terminal_and_cleared_for_messages() -> None:
    term = Terminal()
    printer = Printer(term, show_progress=True)
    printer.progress(5, 10, 2_000_000)
    assert term.getvalue().startswith("\r[###############...............] 5/10  2.0 MB")
    printer.problem("failed", "s3://abc/k", "boom")
    assert term.getvalue().endswith("\r\033[Kglue sync: failed: s3://abc/k: boom\n")


def test_no_progress_in_a_pipe_or_log() -> None:
    pipe = io.StringIO()
    printer = Printer(pipe, show_progress=True)
    printer.progress(10, 10, 1)
    printer.problem("refused", "s3://abc/../x", "'..' segment in key")
    assert pipe.getvalue() == "glue sync: refused: s3://abc/../x: '..' segment in key\n"
