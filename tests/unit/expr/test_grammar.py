"""The task-expression parser: precedence, associativity, errors with columns, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glue.expr.grammar import PRECEDENCE, ExprError, Op, Task, parse, task_names, to_text

a, b, c, d = (Task(n) for n in "abcd")


def test_the_seed_expression() -> None:
    tree = parse("(a | b | c); d; a + b + c + d")
    assert tree == Op(";", (Op("|", (a, b, c)), d, Op("+", (a, b, c, d))))
    assert task_names(tree) == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a + b | c", Op("|", (Op("+", (a, b)), c))),
        ("a | b + c", Op("|", (a, Op("+", (b, c))))),
        ("a; b | c", Op(";", (a, Op("|", (b, c))))),
        ("a | b; c + d", Op(";", (Op("|", (a, b)), Op("+", (c, d))))),
        ("a + (b; c)", Op("+", (a, Op(";", (b, c))))),
        ("((a))", a),
    ],
)
def test_plus_binds_tighter_than_bar_which_binds_tighter_than_semicolon(text, tree) -> None:
    assert parse(text) == tree


def test_a_chain_is_one_node_and_parentheses_nest() -> None:
    assert parse("a | b | c") == Op("|", (a, b, c))
    assert parse("(a | b) | c") == Op("|", (Op("|", (a, b)), c))
    assert parse("a | (b | c)") == Op("|", (a, Op("|", (b, c))))
    assert parse("a + b + c") == Op("+", (a, b, c))


def test_names_are_python_identifiers_and_spaces_do_not_matter() -> None:
    assert parse("  _x1+Task_2 ") == Op("+", (Task("_x1"), Task("Task_2")))
    assert parse("a;b|c") == parse("a ; b | c")


@pytest.mark.parametrize(
    ("text", "problem", "column"),
    [
        ("a + x", "unknown task 'x'", 5),
        ("(a | b", "unclosed '('", 1),
        ("a | b)", "unmatched ')'", 6),
        ("a |", "missing operand after '|'", 4),
        ("a + ; b", "missing operand after '+'", 5),
        ("; a", "missing operand before ';'", 1),
        ("a | ()", "empty parentheses", 6),
        ("a b", "missing operator between 'a' and 'b'", 3),
        ("a & b", "unexpected character '&'", 3),
        ("1a", "unexpected character '1'", 1),
        ("", "empty expression", 1),
    ],
)
def test_each_error_names_its_problem_and_column(text, problem, column) -> None:
    with pytest.raises(ExprError) as err:
        parse(text, known={"a", "b", "c", "d"})
    assert (err.value.problem, err.value.column) == (problem, column)
    assert str(err.value) == f"{problem} at column {column}"


def test_without_a_task_list_any_name_is_accepted() -> None:
    assert parse("anything") == Task("anything")


def test_printing_adds_only_the_parentheses_the_tree_needs() -> None:
    assert to_text(parse("((a | b)) | (c + d)")) == "(a | b) | c + d"
    assert to_text(parse("(a; b) + c")) == "(a; b) + c"
    assert to_text(parse("(a | b | c); d; a + b + c + d")) == "a | b | c; d; a + b + c + d"


names = st.sampled_from(["a", "b", "c", "d", "task_1", "_x"]).map(Task)
trees = st.recursive(
    names,
    lambda children: st.builds(
        Op, st.sampled_from(sorted(PRECEDENCE)), st.lists(children, min_size=2, max_size=4)
    ).map(lambda op: Op(op.op, tuple(op.operands))),
    max_leaves=12,
)


@given(trees)
def test_print_then_parse_gives_the_same_tree(tree) -> None:
    assert parse(to_text(tree)) == tree
