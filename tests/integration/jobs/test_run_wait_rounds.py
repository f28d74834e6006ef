"""run.yml's wait (roles/run/tasks/wait.yml) through hundreds of rounds: ansible-playbook on
localhost runs the real `glue wait --timeout 0` against a real Redis until the run completes.

An include that includes itself nests one level per round and, over a run of hours, reaches
Ansible's recursion limit; the `until` loop must not. No worker runs until ROUNDS rounds have
passed, so the run cannot complete before; then one worker runs its only scenario and the play
must end 0 with the run's last progress line. About one round a second here: several minutes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import REPO, Engine, wait_for

ROUNDS = 300
PLAYBOOK = """- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: run
        tasks_from: wait
"""


def test_run_yml_waits_through_300_rounds_and_ends_when_the_run_completes(
    engine: Engine, tmp_path: Path
) -> None:
    scenario = scenarios.script(scenarios.VALUE, n=7)
    source = scenarios.write(tmp_path / "scenarios", {"a.py": scenario})
    run_id = engine.run_id("rounds")
    code, _, err = engine.glue("run", str(source), "--run-id", run_id, "--executor", "process")
    assert code == 0, err

    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "glue.yml").write_text(
        f"redis_url: {engine.env['GLUE_REDIS_URL']}\nqueue: {engine.env['GLUE_QUEUE']}\n"
    )
    rounds = tmp_path / "rounds"
    glue = tmp_path / "glue"
    glue.write_text(f'#!/bin/sh\necho >> {rounds}\nexec {sys.executable} -m glue "$@"\n')
    glue.chmod(0o755)
    (tmp_path / "wait.yml").write_text(PLAYBOOK)
    # Its own inventory: the lab's group_vars ask the lab's S3 store for its keys, and this
    # test needs no S3 store running.
    inventory = tmp_path / "hosts"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    env = {
        **engine.env,
        "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
        "ANSIBLE_HOME": str(tmp_path / "ansible"),
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
    }
    playbook = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        str(tmp_path / "wait.yml"),
        "-i",
        str(inventory),
        "-e",
        f"run_id={run_id} run_glue={glue} run_state_dir={state_dir} run_progress_seconds=0",
    ]
    play = subprocess.Popen(
        playbook, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:

        def rounds_done() -> int:
            if play.poll() is not None:
                raise AssertionError(f"the play ended early:\n{play.stdout.read().decode()}")
            return rounds.exists() and len(rounds.read_text().splitlines()) >= ROUNDS

        wait_for(f"{ROUNDS} rounds of glue wait", rounds_done, timeout=ROUNDS * 5)
        assert not engine.state(run_id).complete()
        engine.start_workers("--slots", "1", "--burst")
        out = play.communicate(timeout=120)[0].decode()
    finally:
        if play.poll() is None:
            play.kill()
            play.wait()
    assert play.returncode == 0, out[-3000:]
    assert len(rounds.read_text().splitlines()) > ROUNDS
    assert f"run {run_id} [##############################] 1/1" in out
    assert "recursion" not in out.lower() and os.linesep + "fatal" not in out
