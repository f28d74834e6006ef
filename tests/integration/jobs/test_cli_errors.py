"""Each user mistake ends with one line naming the problem and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine
from tests.support.net import free_port
from tests.support.redis_server import RedisServer


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return scenarios.write(tmp_path / "scenarios", {"a.py": scenarios.script(scenarios.FAIL)})


def one_line_error(engine: Engine, *args: str) -> str:
    code, out, err = engine.glue(*args)
    assert code != 0
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("glue: error: ")
    return lines[0]


def test_bad_run_id(engine: Engine, source: Path) -> None:
    line = one_line_error(engine, "run", str(source), "--run-id", "a/b")
    assert "bad run id 'a/b'" in line
    assert "bad run id" in one_line_error(engine, "status", "no way")


def test_unreachable_redis(engine: Engine, source: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    line = one_line_error(engine, "run", str(source), "--run-id", "r", "--redis-url", url)
    assert f"cannot reach Redis at {url}" in line
    assert "cannot reach Redis" in one_line_error(engine, "result", "r", "--redis-url", url)


def test_wrong_or_missing_password(engine: Engine, redis_server: RedisServer, source) -> None:
    wrong = redis_server.url(password="not-the-password")
    line = one_line_error(engine, "run", str(source), "--run-id", "r", "--redis-url", wrong)
    assert "refused the password" in line
    assert "not-the-password" not in line
    none = redis_server.url(password="")
    line = one_line_error(engine, "status", "r", "--redis-url", none)
    assert "requires a password" in line


def test_empty_or_missing_source(engine: Engine, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a scenario")
    line = one_line_error(engine, "run", str(empty), "--run-id", "r")
    assert f"no scenarios matching '*.py' under {empty}" in line
    line = one_line_error(engine, "run", str(tmp_path / "nope"), "--run-id", "r")
    assert "does not exist" in line


def test_unknown_reducer(engine: Engine, source: Path) -> None:
    line = one_line_error(engine, "run", str(source), "--run-id", "r", "--reduce", "avg:x")
    assert "unknown reducer 'avg:x'" in line
    line = one_line_error(
        engine, "run", str(source), "--run-id", "r", "--reduce", "python:no_such_mod:f"
    )
    assert "cannot import no_such_mod" in line


def test_unknown_run(engine: Engine) -> None:
    assert "no run 'never-submitted'" in one_line_error(engine, "result", "never-submitted")


def test_resubmission_with_other_reducers(engine: Engine, source: Path) -> None:
    run_id = engine.run_id("fixed")
    code, _, err = engine.glue("run", str(source), "--run-id", run_id, "--reduce", "count")
    assert code == 0, err
    line = one_line_error(engine, "run", str(source), "--run-id", run_id, "--reduce", "concat")
    assert "was submitted with other settings (reduce ['count'] -> ['concat'])" in line
