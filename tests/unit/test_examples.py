"""The demo's sample scenarios: committed files match their generator and behave as described."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "examples" / "scenarios"


def generator():
    spec = importlib.util.spec_from_file_location(
        "make_scenarios", REPO / "examples/make_scenarios.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_scenarios_are_what_the_generator_writes():
    expected = generator().scenarios()
    committed = {
        p.relative_to(SCENARIOS).as_posix(): p.read_text() for p in SCENARIOS.rglob("*.py")
    }
    assert committed == expected
    assert len(committed) == 50


@pytest.mark.parametrize("key", ["primes/primes-01.py", "factorial/factorial-01.py"])
def test_a_scenario_writes_its_value(key: str, tmp_path: Path):
    subprocess.run(
        [sys.executable, SCENARIOS / key], env={"SIMFLEET_IO": str(tmp_path)}, check=True
    )
    result = json.loads((tmp_path / "results/result.json").read_text())
    assert result["scenario"] == key
    # 1,229 primes below 10,000; the digits of 100! add up to 648.
    assert result["value"] == {"primes/primes-01.py": 1229, "factorial/factorial-01.py": 648}[key]


def test_the_broken_scenario_fails_and_says_why(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, SCENARIOS / "broken/bad-input.py"],
        env={"SIMFLEET_IO": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "mesh_size" in done.stderr
    assert not (tmp_path / "results").exists()
