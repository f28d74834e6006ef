"""The process executor: named venvs, and nothing a scenario starts outlives its job."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine, read_json
from tests.integration.jobs.test_run import alive

SYSTEM_PYTHON = "/usr/bin/python3"

# Leaves a child behind that would run for minutes, and says which.
DETACH = """child = __import__("subprocess").Popen(["sleep", "300"], start_new_session=False)
answer({"value": 1, "child": child.pid})
"""


def test_named_venv_and_no_stray_processes(
    engine: Engine, tmp_path: Path, shared_tmp: Path
) -> None:
    venv_root = shared_tmp / "venvs"
    # From the system's interpreter, which jobs find on their PATH: the slot account cannot
    # enter root's own interpreter or the checkout's .venv.
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", venv_root / "sim"], check=True)
    engine.env["GLUE_VENV_ROOT"] = str(venv_root)
    source = scenarios.write(
        tmp_path / "scenarios",
        {"prefix.py": scenarios.script(scenarios.PREFIX), "detach.py": scenarios.script(DETACH)},
    )
    engine.start_workers("--slots", "2")
    with_venv, without = engine.run_id("venv"), engine.run_id("novenv")
    common = ["--executor", "process", "--retries", "0"]
    assert engine.glue("run", str(source), "--run-id", without, "--venv", "gone", *common)[0] == 0
    # --wait prints the reduced result once every scenario is done, the summary written.
    code, out, err = engine.glue(
        "run", str(source), "--run-id", with_venv, "--venv", "sim", "--wait", *common
    )
    assert code == 0, err
    assert json.loads(out) == {"count": {"succeeded": 2}}
    results = tmp_path / "results" / with_venv
    summary = read_json(results / "summary.json")
    assert summary["counts"] == {"succeeded": 2}
    assert read_json(results / "prefix.py/results/result.json")["prefix"] == str(venv_root / "sim")
    assert not alive(read_json(results / "detach.py/results/result.json")["child"])

    missing = engine.wait_complete(without)
    assert missing["counts"] == {"error": 2}
    assert "no Python environment 'gone' on this host" in missing["failures"][0]["error"]


# Reports the job's process limit, and whether it can raise it.
NPROC = """import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
try:
    resource.setrlimit(resource.RLIMIT_NPROC, (hard + 1, hard + 1))
    raised = True
except (ValueError, OSError):
    raised = False
answer({"value": 0, "soft": soft, "hard": hard, "raised": raised})
"""


def test_each_runs_pids_limit_reaches_its_jobs(engine: Engine, tmp_path: Path) -> None:
    """The limit is the run's, job after job on the same slot, lowered and raised again, and
    the job cannot raise it."""
    source = scenarios.write(tmp_path / "scenarios", {"nproc.py": scenarios.script(NPROC)})
    engine.start_workers("--slots", "1")
    for limit in (300, 40, 1000):
        run_id = engine.run_id(f"nproc{limit}")
        common = ["--executor", "process", "--retries", "0", "--wait"]
        code, _, err = engine.glue(
            "run", str(source), "--run-id", run_id, f"--pids-limit={limit}", *common
        )
        assert code == 0, err
        answer = read_json(tmp_path / "results" / run_id / "nproc.py/results/result.json")
        assert answer == {"value": 0, "soft": limit, "hard": limit, "raised": False}
