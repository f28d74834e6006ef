"""Run one scenario in an image exactly as a fleet job would: the same io-dir, the same
configs/job.json, the same ExecSpec and docker executor (glue.jobs.docker_executor, with its
sandbox), the same result.json and the same reducers - only without Redis and S3."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import docker.errors

from glue.errors import GlueError
from glue.jobs import docker_executor, reducers
from glue.jobs.executor import FAILED, IoDir
from glue.jobs.job import exec_spec

RUN_ID = "image-test"


@dataclass(frozen=True)
class Trial:
    status: str
    exit_code: int | None
    error: str | None
    seconds: float
    log: Path
    result: Any
    reduced: dict[str, Any]


def run_scenario(
    image: str,
    scenario: Path,
    configs: list[Path],
    io_root: Path,
    command: str,
    timeout: int,
    reduce: list[str],
) -> Trial:
    """Run `scenario` in `image` in the job folder io_root (new or empty, kept for the user):
    its io-dir is io_root/io and its log io_root/output.log, as on a worker."""
    if not scenario.is_file():
        raise GlueError(f"scenario {scenario} is not a file")
    for config in configs:
        if not config.is_file():
            raise GlueError(f"config {config} is not a file")
    folded = reducers.parse_all(reduce)
    try:
        docker_executor.client().images.get(image)
    except docker.errors.ImageNotFound:
        raise GlueError(f"no image {image!r} on this host (pull or build it first)") from None
    if io_root.is_dir() and any(io_root.iterdir()):
        raise GlueError(f"{io_root} is not empty: give a new or empty folder for the trial")
    io_root.parent.mkdir(parents=True, exist_ok=True)  # the default's folder, on a new machine
    io = IoDir.create(io_root)
    shutil.copyfile(scenario, io.inputs / scenario.name)
    for config in configs:
        shutil.copyfile(config, io.configs / config.name)
    job_id = f"{RUN_ID}-{uuid.uuid4().hex[:8]}"
    spec = {
        "run_id": RUN_ID,
        "scenario": scenario.name,
        "image": image,
        "command": command,
        "timeout": timeout,
        "reduce": reduce,
        "executor": "docker",
    }
    (io.configs / "job.json").write_text(
        json.dumps({**spec, "job_id": job_id, "attempt": 1}, indent=2)
    )
    started = time.monotonic()
    executed = docker_executor.run(exec_spec(spec, job_id, socket.gethostname()), io)
    seconds = time.monotonic() - started
    status, error = executed.status, executed.error
    try:
        result = io.result()
    except ValueError as exc:
        status, error, result = FAILED, str(exc), None
    reduced = {}
    for reducer in folded:
        try:
            reduced[reducer.spec] = reducers.fold_one(reducer, status, result)
        except reducers.Skip as exc:
            reduced[reducer.spec], error = (
                reducers.fold_one(reducer, FAILED, None),
                error or str(exc),
            )
    return Trial(status, executed.exit_code, error, seconds, io.log, result, reduced)


def default_io_root(image: str) -> Path:
    """A new folder per trial under the temp folder, kept so its log can be read."""
    safe = "".join(c if c.isalnum() else "-" for c in image)[-40:]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return (
        Path(tempfile.gettempdir()) / "glue-image-test" / f"{safe}-{stamp}-{uuid.uuid4().hex[:4]}"
    )
