"""A slot runs its jobs in its own process: no work horse is forked per job (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rq import Queue, Worker

from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine

# The job's ancestors up to init, nearest first, as (pid, command name).
ANCESTORS = """chain, pid = [], os.getppid()
while pid > 1:
    stat = open(f"/proc/{pid}/stat").read()
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    chain.append([pid, name])
    pid = int(stat.rpartition(")")[2].split()[1])
answer({"value": 1, "ancestors": chain})
"""


def test_one_slot_process_starts_every_job_of_the_slot(engine: Engine, tmp_path: Path) -> None:
    if "GLUE_JOB_USERS" not in engine.env:
        pytest.skip("needs slot accounts (root) to run process jobs")
    source = scenarios.write(
        tmp_path / "scenarios", {f"s{n}.py": scenarios.script(ANCESTORS) for n in range(6)}
    )
    results, run_id = tmp_path / "results", engine.run_id("one-process")
    engine.start_workers("--slots", "1")
    code, _, err = engine.glue(
        "run", str(source), "--run-id", run_id, "--executor", "process",
        "--results", str(results),
    )  # fmt: skip
    assert code == 0, err
    assert engine.wait_complete(run_id)["counts"] == {"succeeded": 6}
    queue = Queue(engine.env["GLUE_QUEUE"], connection=engine.conn)
    (slot,) = [w.pid for w in Worker.all(queue=queue)]
    parents = set()
    for n in range(6):
        result = json.loads((results / run_id / f"s{n}.py/results/result.json").read_text())
        # The job's nearest ancestor that is not sudo (which runs it as the slot's account).
        parent = next(pid for pid, name in result["ancestors"] if name != "sudo")
        parents.add(parent)
    # A forking worker would show six parents, one work horse per job, none of them the slot.
    assert parents == {slot}
