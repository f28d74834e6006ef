"""Compiling expressions into steps: reuse of tasks, ordering by ';', pairwise sums."""

from __future__ import annotations

from glue.expr.grammar import parse
from glue.expr.plan import LIST, SUM, TASK, compile_plan


def plan_of(text: str):
    return compile_plan(parse(text), "x")


def by_task(plan):
    return {s.task: s for s in plan.steps if s.kind == TASK}


def test_the_seed_expression_runs_each_task_once_and_d_after_a_b_c() -> None:
    plan = plan_of("(a | b | c); d; a + b + c + d")
    tasks = by_task(plan)
    assert sorted(tasks) == ["a", "b", "c", "d"]
    assert tasks["a"].depends_on == tasks["b"].depends_on == tasks["c"].depends_on == ()
    assert set(tasks["d"].depends_on) == {tasks[n].id for n in "abc"}
    # The value is a chain of three pairwise sums ending in d.
    final = next(s for s in plan.steps if s.id == plan.result)
    assert final.kind == SUM and final.operands[1] == tasks["d"].id
    assert sum(1 for s in plan.steps if s.kind == SUM) == 3


def test_steps_come_after_what_they_depend_on() -> None:
    plan = plan_of("a; (b | c + a); d + b")
    seen: set[str] = set()
    for step in plan.steps:
        assert set(step.depends_on) <= seen
        seen.add(step.id)


def test_semicolon_value_is_the_last_operand() -> None:
    plan = plan_of("a; b")
    tasks = by_task(plan)
    assert plan.result == tasks["b"].id
    assert tasks["b"].depends_on == (tasks["a"].id,)


def test_a_bar_makes_one_list_step_over_its_operands() -> None:
    plan = plan_of("a | b + c")
    final = next(s for s in plan.steps if s.id == plan.result)
    assert final.kind == LIST and len(final.operands) == 2
    assert final.depends_on == final.operands


def test_a_single_task_is_its_own_value() -> None:
    plan = plan_of("a")
    assert [s.kind for s in plan.steps] == [TASK]
    assert plan.result == plan.steps[0].id


def test_a_task_first_seen_after_a_semicolon_waits_for_every_earlier_task() -> None:
    tasks = by_task(plan_of("a; b; c"))
    assert tasks["c"].depends_on == tuple(sorted({tasks["a"].id, tasks["b"].id}))
