"""Redis killed and started again mid-run (AOF with fsync on every write): no job is lost."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path

import redis

from glue.jobs.runstate import RunState
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine, read_json
from tests.support.redis_server import RedisServer

BODY = """time.sleep(0.3)
answer({{"value": {n}}})
"""


def test_a_redis_restart_mid_run_loses_no_job(engine: Engine, tmp_path: Path, monkeypatch) -> None:
    server = RedisServer(tmp_path / "redis", password=secrets.token_hex(8))
    server.folder.mkdir()
    server.start()
    try:
        # This test's own Redis, so the restart disturbs no other test.
        engine.env["GLUE_REDIS_URL"] = server.url()
        engine.env["GLUE_QUEUE"] = f"restart-{uuid.uuid4().hex[:8]}"
        monkeypatch.setenv("GLUE_REDIS_URL", server.url())
        monkeypatch.setenv("GLUE_QUEUE", engine.env["GLUE_QUEUE"])
        engine.conn = redis.Redis.from_url(server.url())
        files = {f"s{n:02d}.py": scenarios.script(BODY, n=n) for n in range(20)}
        source = scenarios.write(tmp_path / "scenarios", files)
        engine.start_workers("--slots", "2")
        run_id = engine.run_id("restart")
        code, _, err = engine.glue(
            "run",
            str(source),
            "--run-id",
            run_id,
            "--executor",
            "process",
            "--reduce",
            "sum:value",
            "--reduce",
            "count",
        )
        assert code == 0, err
        state = RunState(engine.conn, run_id)
        engine.wait("a few jobs to finish", lambda: state.progress()[0] >= 4)
        server.restart()  # SIGKILL, then start on the same port and data
        summary = engine.wait_complete(run_id)
        assert summary["counts"] == {"succeeded": 20}
        assert summary["reduced"] == {"sum:value": sum(range(20)), "count": {"succeeded": 20}}
        run_dir = source.parent / "results" / run_id
        assert sorted(p.parent.name for p in run_dir.glob("*/outcome.json")) == sorted(files)
        assert sorted(read_json(p)["value"] for p in run_dir.glob("*/results/result.json")) == list(
            range(20)
        )
    finally:
        for workers in engine.workers:
            workers.stop()
        server.stop()
