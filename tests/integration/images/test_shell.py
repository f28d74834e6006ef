"""`glue image shell` through a real terminal (a pty driven by pexpect)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect

from tests.integration.images.conftest import REPO, glue


def test_shell_is_interactive_root_in_io(dev_name: str, tmp_path: Path) -> None:
    io_dir = tmp_path / "io"
    assert glue("image", "new", dev_name, "--io", str(io_dir)).code == 0
    env = {**os.environ, "PYTHONPATH": str(REPO), "PS1": "dev# "}
    shell = pexpect.spawn(
        sys.executable,
        ["-m", "glue", "image", "shell", dev_name],
        env=env,
        cwd=str(REPO),
        timeout=30,
        encoding="utf-8",
    )
    shell.sendline("PS1='ready> '")
    shell.expect("ready> ")
    shell.sendline('echo "$(id -u) $(pwd) $((6*7))" | tee /io/results/from-shell')
    shell.expect("0 /io 42")
    shell.expect("ready> ")
    shell.sendline("exit 5")
    shell.expect(pexpect.EOF)
    shell.close()
    assert shell.exitstatus == 5
    assert (io_dir / "results" / "from-shell").read_text() == "0 /io 42\n"


def test_shell_needs_a_terminal(dev_name: str, tmp_path: Path) -> None:
    assert glue("image", "new", dev_name, "--io", str(tmp_path / "io")).code == 0
    assert "needs a terminal" in glue("image", "shell", dev_name).error_line()
