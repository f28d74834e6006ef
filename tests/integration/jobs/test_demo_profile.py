"""The demo's 50 scenarios under the sandbox's default container profile: the same answers as
run directly, and only the broken one fails."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.integration.jobs.conftest import REPO, Engine, read_json

SCENARIOS = REPO / "examples" / "scenarios"


def direct_value(key: str, tmp_path: Path) -> int:
    """The scenario's value when run as a plain process with an io-dir of its own."""
    io = tmp_path / "direct" / key
    io.mkdir(parents=True)
    subprocess.run([sys.executable, SCENARIOS / key], env={"SIMFLEET_IO": str(io)}, check=True)
    return read_json(io / "results" / "result.json")["value"]


def test_the_demo_scenarios_answer_the_same_in_the_sandbox(
    engine: Engine, tmp_path: Path, executor_image: str
) -> None:
    keys = sorted(p.relative_to(SCENARIOS).as_posix() for p in SCENARIOS.rglob("*.py"))
    assert len(keys) == 50
    engine.start_workers("--slots", "2")
    run_id = engine.run_id("demo")
    code, out, err = engine.glue(
        "run",
        str(SCENARIOS),
        "--run-id",
        run_id,
        "--image",
        executor_image,
        "--results",
        str(tmp_path / "results"),
        "--retries",
        "0",
        "--reduce",
        "sum:value",
        "--reduce",
        "count",
        "--wait",
    )
    assert code == 0, err
    good = [k for k in keys if not k.startswith("broken/")]
    with ThreadPoolExecutor(8) as pool:
        expected = dict(zip(good, pool.map(lambda k: direct_value(k, tmp_path), good), strict=True))
    assert json.loads(out) == {
        "sum:value": sum(expected.values()),
        "count": {"succeeded": 49, "failed": 1},
    }
    run_dir = tmp_path / "results" / run_id
    for key, value in expected.items():
        assert read_json(run_dir / key / "results" / "result.json")["value"] == value, key
