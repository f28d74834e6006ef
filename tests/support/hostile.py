"""The hostile scenarios of tests/hostile and what every run of them must show, wherever it
ran: on the local engine (tests/integration/jobs/test_hostile.py, results in a folder) or on
the lab through run.yml (tests/e2e/test_run.py, results in S3)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

HOSTILE = Path(__file__).resolve().parents[1] / "hostile"
# shell_key.py is stored under this key: shell code, if a command template ran it unquoted.
SHELL_KEY = "a;cd${IFS}results;touch${IFS}pwned;.py"
# The command template the runs use: a shell, so the key must reach it quoted.
SHELL_COMMAND = "sh -c 'exec python3 {scenario}'"
# A scenario whose defence is refusing the attack answers blocked; it must be true.
REFUSED = (
    "mount.py",
    "raw_socket.py",
    "write_root.py",
    "fork_bomb.py",
    "read_config.py",
    "docker_socket.py",
)
TIMESTAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z ")

Json = dict[str, Any]


def scenarios() -> dict[str, bytes]:
    """Key → content of every hostile scenario of one run (the GPU one runs on its own)."""
    return {
        SHELL_KEY if path.name == "shell_key.py" else path.name: path.read_bytes()
        for path in sorted(HOSTILE.glob("*.py"))
        if path.name != "gpu.py"
    }


def seconds(outcome: Json) -> float:
    start, end = (datetime.fromisoformat(outcome[k].rstrip("Z")) for k in ("start", "end"))
    return (end - start).total_seconds()


def check_run(
    outcomes: dict[str, Json],
    read: Callable[[str], str | None],
    names: Callable[[str], list[str]],
    pids_limit: int,
) -> None:
    """Each attack failed the intended way and every other result arrived.

    `read(path)` is the text of a file the run handed back (path relative to the run's
    results, e.g. "fifo.py/results/result.json"), None when there is none; `names(folder)`
    lists the files handed back in such a folder."""

    def answer(scenario: str) -> Json:
        text = read(f"{scenario}/results/result.json")
        assert text is not None, f"{scenario}: no result.json"
        return json.loads(text)

    statuses = {key: o["status"] for key, o in outcomes.items()}
    assert set(statuses) == set(scenarios()), statuses
    # Only result.json behind a link fails; every other scenario's result arrived.
    failed = {key for key, status in statuses.items() if status != "succeeded"}
    assert failed == {"result_json_symlink.py"}, {k: outcomes[k] for k in failed}

    for scenario in REFUSED:
        assert answer(scenario)["blocked"] is True, (scenario, answer(scenario))
    assert answer("fork_bomb.py")["forks"] < pids_limit
    assert answer("read_config.py")["leaked_variables"] == []

    # Links and a FIFO in results/ and logs/: skipped, and named in the outcome's notes.
    assert outcomes["results_symlink.py"]["notes"] == [
        "results/leak.txt: a symbolic link, not uploaded",
        "results/leakdir: a symbolic link, not uploaded",
    ]
    assert names("results_symlink.py/results") == ["result.json"]
    assert outcomes["logs_symlink.py"]["notes"] == [
        "logs/leak.txt: a symbolic link, not uploaded",
        "logs/output.log: a symbolic link, not uploaded",
    ]
    assert outcomes["fifo.py"]["notes"] == ["results/pipe: not a regular file, not uploaded"]
    # The worker's own log was uploaded as logs/output.log.
    log = (read("logs_symlink.py/logs/output.log") or "").splitlines()
    assert log and all(TIMESTAMPED.match(line) for line in log), log
    assert "this line must not land in the target" in log[-1]

    linked = outcomes["result_json_symlink.py"]
    assert linked["status"] == "failed"
    assert linked["error"] == (
        "results/result.json cannot be read: results/result.json is a symbolic link"
    )

    # Children outliving the job: it ended at once, not at its timeout.
    assert seconds(outcomes["setsid_child.py"]) < 20

    # The key with shell code ran as itself, and its code did not run.
    assert answer(SHELL_KEY)["value"] == 1
    assert "pwned" not in names(f"{SHELL_KEY}/results")


def leaks(texts: Iterable[tuple[str, str]], secrets: Iterable[str]) -> list[str]:
    """Names of the handed-back files in which any of the secrets appears."""
    wanted = [s for s in secrets if s]
    return [name for name, text in texts if any(secret in text for secret in wanted)]
