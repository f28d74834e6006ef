"""Longest first: a finished run leaves each scenario's duration in the queue's history, under
its content; the next run queues the scenarios longest expected first (a changed scenario has
no history and goes after the known ones), a hint file fills in the unknown, and
`--order listing` keeps the listing's order. A queue's first run reads no local scenario to
know its content: its jobs hash their fetched copies. Real Redis, real workers, process
executor."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import redis
from rq.job import Job
from rq.serializers import JSONSerializer

from glue.jobs import connection, history
from glue.lab.rgw import RgwEndpoint
from glue.s3.client import S3Client
from tests.integration.jobs import scenarios
from tests.integration.jobs.conftest import Engine

SLEEPS = {"a.py": 0.2, "b.py": 2.0, "c.py": 1.0}


def sleeper(seconds: float) -> str:
    return scenarios.script(f'time.sleep({seconds})\nanswer({{"value": 1}})\n')


def queued_specs(engine: Engine, run_id: str) -> list[dict]:
    """The own specs of the run's queued jobs, in the queue's order."""
    queue = connection.queue(engine.conn, engine.env["GLUE_QUEUE"])
    ids = [i for i in queue.get_job_ids() if i.startswith(f"{run_id}-")]
    return [j.kwargs["spec"] for j in Job.fetch_many(ids, engine.conn, serializer=JSONSerializer)]


def queued(engine: Engine, run_id: str) -> list[tuple[str, float | None]]:
    """(scenario, expected seconds) of the run's queued jobs, in the queue's order."""
    return [(s["scenario"], s["expected"]) for s in queued_specs(engine, run_id)]


def content_id(path: Path) -> str:
    data = path.read_bytes()
    return f"{len(data)}:{hashlib.sha256(data).hexdigest()}"


def test_history_by_content_orders_the_next_run_longest_first(
    engine: Engine, tmp_path: Path
) -> None:
    source = scenarios.write(tmp_path / "s", {n: sleeper(s) for n, s in SLEEPS.items()})
    results = str(tmp_path / "results")
    common = ["--executor", "process", "--retries", "0", "--results", results]
    queue = engine.env["GLUE_QUEUE"]

    # The first run has no history: listing order, and nothing expected. Its scenarios are
    # not read at submit (no content id is of use yet): the jobs hash what they fetch.
    first = engine.run_id("first")
    code, _, err = engine.glue("run", str(source), "--run-id", first, *common)
    assert code == 0, err
    assert "0 expected from history, 0 from hints, 3 unknown" in err
    assert [s["content"] for s in queued_specs(engine, first)] == [None, None, None]
    workers = engine.start_workers("--slots", "1")
    summary = engine.wait_complete(first)
    assert summary["counts"] == {"succeeded": 3}
    assert [j["expected"] for j in summary["jobs"]] == [None, None, None]
    workers.stop()
    recorded = {k.decode(): float(v) for k, v in engine.conn.hgetall(history.key(queue)).items()}
    assert len(recorded) == 3
    assert 0 < engine.conn.ttl(history.key(queue)) <= history.KEEP_SECONDS
    # Keyed by content (size:sha256), each at least as long as the scenario sleeps.
    assert recorded.keys() == {content_id(source / n) for n in SLEEPS}
    durations = sorted(recorded.values())
    assert [d >= s for d, s in zip(durations, sorted(SLEEPS.values()), strict=True)] == [True] * 3
    assert durations[2] < 30

    # c.py changes (no history any more); d.py is b.py under a new name (b's history).
    (source / "c.py").write_text(sleeper(1.0) + "# changed\n")
    (source / "d.py").write_text((source / "b.py").read_text())
    second = engine.run_id("second")
    code, _, err = engine.glue("run", str(source), "--run-id", second, *common)
    assert code == 0, err
    assert "3 expected from history, 0 from hints, 1 unknown; queued longest expected first" in err
    # With a history, submit reads each scenario's content id: the jobs carry it.
    specs = {s["scenario"]: s["content"] for s in queued_specs(engine, second)}
    assert specs == {n: content_id(source / n) for n in ("a.py", "b.py", "c.py", "d.py")}
    order = queued(engine, second)
    assert [s for s, _ in order] == ["b.py", "d.py", "a.py", "c.py"]
    assert order[0][1] == order[1][1] >= 2.0 and order[2][1] >= 0.2 and order[3][1] is None

    # A hint file gives c.py (unknown) an expectation; history still wins for the others.
    hints = tmp_path / "hints.csv"
    hints.write_text("scenario,seconds\nc.py,50\na.py,1000\n")
    third = engine.run_id("third")
    code, _, err = engine.glue(
        "run", str(source), "--run-id", third, *common, "--durations", str(hints)
    )
    assert code == 0, err
    assert "3 expected from history, 1 from hints, 0 unknown" in err
    assert [s for s, _ in queued(engine, third)] == ["c.py", "b.py", "d.py", "a.py"]
    assert dict(queued(engine, third))["c.py"] == 50.0

    # --order listing: the listing's order, each job still saying what was expected.
    fourth = engine.run_id("fourth")
    code, _, err = engine.glue(
        "run", str(source), "--run-id", fourth, *common, "--order", "listing"
    )
    assert code == 0, err
    assert "queued in listing order" in err
    order = queued(engine, fourth)
    assert [s for s, _ in order] == ["a.py", "b.py", "c.py", "d.py"]
    assert order[1][1] >= 2.0 and order[2][1] is None

    # The second run, run: its summary carries what was expected next to what it took.
    engine.start_workers("--slots", "1")
    summary = engine.wait_complete(second)
    expected = {j["scenario"]: j["expected"] for j in summary["jobs"]}
    assert expected["c.py"] is None and expected["b.py"] >= 2.0
    dispatch = summary["dispatch"]
    (lane,) = dispatch["slots"]
    assert dispatch["slots"][lane]["jobs"] == 4
    assert 0 <= dispatch["gap_mean"] <= dispatch["gap_max"] < 10
    assert dispatch["lower_bound"] >= 5.2  # one slot: the sum of the sleeps, at least
    # The changed c.py now has history of its own: the old entry stays until it is trimmed.
    assert engine.conn.hlen(history.key(queue)) == 4


def test_bad_hint_file_is_one_line_and_queues_nothing(engine: Engine, tmp_path: Path) -> None:
    source = scenarios.write(tmp_path / "s", {"a.py": sleeper(0)})
    bad = {
        "hints.json": (json.dumps({"a.py": -1}), "is not a number of seconds (0 or more)"),
        "hints.csv": ("a.py,1,extra\n", "hints.csv:1: expected `scenario,seconds`, got 3 fields"),
        "other.csv": ("a.py,2\nb.py,soon\n", "other.csv:2: 'soon' is not a number of seconds"),
    }
    for name, (text, why) in bad.items():
        (tmp_path / name).write_text(text)
        run_id = engine.run_id(name.replace(".", "-"))
        code, out, err = engine.glue(
            "run", str(source), "--run-id", run_id, "--durations", str(tmp_path / name)
        )
        assert code != 0 and out == ""
        assert len(err.strip().splitlines()) == 1 and why in err, err
        assert not engine.state(run_id).exists()
    code, _, err = engine.glue("run", str(source), "--run-id", "x", "--durations", "/nonexistent")
    assert code != 0 and "cannot read durations file /nonexistent" in err


def test_history_is_bounded(redis_server, monkeypatch) -> None:
    conn = redis.Redis.from_url(redis_server.url())
    queue = f"bounded-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(history, "MAX_ENTRIES", 50)
    for n in range(60):
        history.record(conn, queue, f"{n}:digest", float(n))
    # Past the bound, a tenth of the bound goes at once: no entry needs an age.
    assert 40 <= conn.hlen(history.key(queue)) <= 50
    known = history.lookup(conn, queue, [f"{n}:digest" for n in range(60)])
    assert all(known[c] == float(c.split(":")[0]) for c in known)
    assert history.lookup(conn, queue, []) == {}
    conn.delete(history.key(queue))


def test_s3_scenarios_are_known_by_size_and_etag(
    engine: Engine, rgw: RgwEndpoint, rgw_s3: S3Client, monkeypatch
) -> None:
    bucket = f"glue-order-{uuid.uuid4().hex[:8]}"
    rgw_s3.create_bucket(Bucket=bucket)
    for name in ("a.py", "b.py"):
        rgw_s3.put_object(Bucket=bucket, Key=f"s/{name}", Body=sleeper(0.1).encode())
    for name, value in rgw.env().items():
        monkeypatch.setenv(name, value)
        engine.env[name] = value
    engine.start_workers("--slots", "1")
    common = ["--executor", "process", "--retries", "0"]
    first = engine.run_id("s3-first")
    code, _, err = engine.glue("run", f"s3://{bucket}/s", "--run-id", first, *common)
    assert code == 0, err
    engine.wait_complete(first)
    listed = rgw_s3.list_objects_v2(Bucket=bucket, Prefix="s/")["Contents"]
    ids = {f"{o['Size']}:{o['ETag'].strip(chr(34))}" for o in listed}
    recorded = engine.conn.hkeys(history.key(engine.env["GLUE_QUEUE"]))
    assert {k.decode() for k in recorded} == ids and len(ids) == 1  # the same content twice

    # b.py changes, keeping its size: a new ETag, so no history.
    rgw_s3.put_object(Bucket=bucket, Key="s/b.py", Body=sleeper(0.2).encode())
    second = engine.run_id("s3-second")
    code, _, err = engine.glue("run", f"s3://{bucket}/s", "--run-id", second, *common)
    assert code == 0, err
    assert "1 expected from history, 0 from hints, 1 unknown" in err
