"""Task expressions on real workers: parallel parts overlap, ';' waits, values add up, and a
failing task fails the expression by name."""

from __future__ import annotations

import json
import textwrap

import pytest
from rq import Queue, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from glue.expr import runner
from glue.expr.functions import FunctionFile

TASKS = textwrap.dedent(
    """
    import time

    def a():
        time.sleep(1)
        return 1

    def b():
        time.sleep(1)
        return 2

    def c():
        time.sleep(1)
        return 3

    def d():
        return 4

    def bad():
        raise ValueError("boom")

    def listed():
        return "echo '[5, 6]'"

    def written():
        return "echo 7 > $SIMFLEET_IO/results/result.json"

    def _helper():
        return "not a task"
    """
)


@pytest.fixture
def tasks_file(tmp_path):
    path = tmp_path / "tasks.py"
    path.write_text(TASKS)
    return path


@pytest.fixture
def three_workers(engine):
    engine.start_workers("--slots", "3")
    queue = Queue(engine.env["GLUE_QUEUE"], connection=engine.conn)
    # All three slots listen before anything is queued: a slot still starting (its first
    # clean-up of what an earlier slot left) would make a, b and c run one after another.
    engine.wait(
        "three idle slots",
        lambda: [w.get_state() for w in Worker.all(queue=queue)] == ["idle"] * 3,
    )
    return engine


# a, b and c meet: each waits until all three have started, so they can end only if they ran
# at the same time, however slow the machine is (1 s sleeps once lost to a slot busy in its
# maintenance).
MEETING = textwrap.dedent(
    """
    import time
    from pathlib import Path

    ROOM = Path(__file__).parent / "room"

    def _meet(name):
        ROOM.mkdir(exist_ok=True)
        (ROOM / name).touch()
        deadline = time.monotonic() + 30
        while len(list(ROOM.iterdir())) < 3:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} waited 30 s for the other two to start")
            time.sleep(0.05)

    def a():
        _meet("a")
        return 1

    def b():
        _meet("b")
        return 2

    def c():
        _meet("c")
        return 3

    def d():
        return 4
    """
)


def test_the_seed_expression_overlaps_a_b_c_and_runs_d_after_them(three_workers, tmp_path):
    engine = three_workers
    conn = engine.conn
    meeting = tmp_path / "meeting.py"
    meeting.write_text(MEETING)
    tasks = FunctionFile.read(str(meeting))
    submitted = runner.submit(
        conn, engine.env["GLUE_QUEUE"], "(a | b | c); d; a + b + c + d", tasks, 60
    )
    assert runner.wait(conn, submitted) == 10

    jobs = {
        step.task: Job.fetch(step.id, connection=conn, serializer=JSONSerializer)
        for step in submitted.plan.steps
        if step.task
    }
    assert sorted(jobs) == ["a", "b", "c", "d"]  # each task ran once, values reused
    assert sorted(p.name for p in (tmp_path / "room").iterdir()) == ["a", "b", "c"]
    parallel = [jobs[n] for n in "abc"]
    # a, b and c ran at the same time: each started before any of them ended.
    assert max(j.started_at for j in parallel) < min(j.ended_at for j in parallel)
    # d started only once all three had ended.
    assert jobs["d"].started_at >= max(j.ended_at for j in parallel)


def test_glue_expr_prints_the_value_as_json(three_workers, tasks_file):
    code, out, err = three_workers.glue("expr", "(a | d) ; d + a", "--tasks", str(tasks_file))
    assert (code, err) == (0, "")
    assert json.loads(out) == 5


def test_command_tasks_give_their_stdout_or_result_json(three_workers, tasks_file):
    code, out, err = three_workers.glue(
        "expr", "listed | written; listed + listed", "--tasks", str(tasks_file)
    )
    assert (code, err) == (0, "")
    assert json.loads(out) == [5, 6, 5, 6]
    code, out, _ = three_workers.glue("expr", "written + d", "--tasks", str(tasks_file))
    assert json.loads(out) == 11


def test_a_failing_task_fails_the_expression_by_name(three_workers, tasks_file):
    code, out, err = three_workers.glue("expr", "(d | bad); a + d", "--tasks", str(tasks_file))
    assert code == 1 and out == ""
    assert err.strip() == "glue: error: task 'bad' failed: ValueError: boom"


def test_adding_a_list_to_a_number_is_an_error_naming_the_types(three_workers, tasks_file):
    code, _, err = three_workers.glue("expr", "listed + d", "--tasks", str(tasks_file))
    assert code == 1
    assert err.strip() == "glue: error: step sum failed: cannot add list and int"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("a + nope", "unknown task 'nope' at column 5"),
        ("(a | b", "unclosed '(' at column 1"),
        ("_helper", "unknown task '_helper' at column 1"),
    ],
)
def test_bad_expressions_stop_before_anything_is_queued(engine, tasks_file, expression, message):
    code, _, err = engine.glue("expr", expression, "--tasks", str(tasks_file))
    assert code == 1
    assert err.strip() == f"glue: error: {message}"


def test_a_broken_tasks_file_is_reported_with_its_line(engine, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def a(:\n    return 1\n")
    code, _, err = engine.glue("expr", "a", "--tasks", str(broken))
    assert code == 1
    assert err.strip().startswith(f"glue: error: tasks file {broken} line 1:")
    code, _, err = engine.glue("expr", "a", "--tasks", str(tmp_path / "missing.py"))
    assert code == 1 and "cannot read tasks file" in err
