"""Compile an expression tree into steps that become RQ jobs with dependencies.

- A task name becomes one `task` step the first time it appears; later mentions reuse its
  value, so `(a | b); a + b` runs a and b once.
- `x | y | z` becomes a `list` step that depends on the operands' values.
- `x + y + z` becomes a chain of pairwise `sum` steps ((x + y) + z), so adding starts as
  soon as the first two operands are ready.
- `x; y` makes every task step first created inside y depend on every task step of x: y's
  tasks start only after x's tasks have finished. The value is y's.
"""

from __future__ import annotations

from dataclasses import dataclass

from glue.expr.grammar import Node, Op, Task

TASK, LIST, SUM = "task", "list", "sum"


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    # The task name for task steps; the ids of the operands for list and sum steps.
    task: str | None
    operands: tuple[str, ...]
    depends_on: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    result: str


def compile_plan(tree: Node, prefix: str) -> Plan:
    """Steps in an order where every step comes after the steps it depends on."""
    steps: list[Step] = []
    by_name: dict[str, str] = {}

    def add(kind: str, operands: tuple[str, ...]) -> str:
        step_id = f"{prefix}-{kind}{len(steps)}"
        steps.append(Step(step_id, kind, None, operands, operands))
        return step_id

    def visit(node: Node, after: frozenset[str]) -> tuple[str, frozenset[str]]:
        """Returns the step holding the node's value and the task steps the node uses."""
        if isinstance(node, Task):
            if node.name not in by_name:
                step_id = f"{prefix}-task-{node.name}"
                steps.append(Step(step_id, TASK, node.name, (), tuple(sorted(after))))
                by_name[node.name] = step_id
            return by_name[node.name], frozenset({by_name[node.name]})
        assert isinstance(node, Op)
        if node.op == ";":
            used: frozenset[str] = frozenset()
            value = ""
            for operand in node.operands:
                value, part = visit(operand, after | used)
                used |= part
            return value, used
        results = [visit(operand, after) for operand in node.operands]
        used = frozenset().union(*(part for _, part in results))
        values = [value for value, _ in results]
        if node.op == "|":
            return add(LIST, tuple(values)), used
        total = values[0]
        for value in values[1:]:
            total = add(SUM, (total, value))
        return total, used

    result, _ = visit(tree, frozenset())
    return Plan(tuple(steps), result)
