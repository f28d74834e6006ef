"""The task-expression language: tokens, syntax tree, parser and printer.

Grammar, from loosest to tightest binding (all operators are left-associative chains):

    seq  := par  (';' par)*     a; b    run b after a has finished; the value is b's
    par  := sum  ('|' sum)*     a | b   run both at once; the value is the list [a, b]
    sum  := atom ('+' atom)*    a + b   the sum of the values (numbers, or lists joined)
    atom := NAME | '(' seq ')'

A chain of one operator is one node with several operands, and parentheses make a nested node,
because grouping changes values: `a | b | c` yields [a, b, c] but `(a | b) | c` yields
[[a, b], c]. The printer adds parentheses exactly where the tree needs them, so printing and
parsing again gives the same tree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from glue.errors import GlueError

# Operator -> binding strength; higher binds tighter.
PRECEDENCE = {";": 1, "|": 2, "+": 3}
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ExprError(GlueError):
    """A malformed expression; the message names the problem and its 1-based column."""

    def __init__(self, problem: str, column: int) -> None:
        super().__init__(f"{problem} at column {column}")
        self.problem = problem
        self.column = column


@dataclass(frozen=True)
class Task:
    """A reference to a task by name."""

    name: str


@dataclass(frozen=True)
class Op:
    """One operator applied to two or more operands, left to right."""

    op: str
    operands: tuple[Node, ...]


Node = Task | Op


@dataclass(frozen=True)
class Token:
    kind: str  # "name", "op", "(", ")", "end"
    text: str
    column: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in PRECEDENCE:
            tokens.append(Token("op", ch, i + 1))
            i += 1
        elif ch in "()":
            tokens.append(Token(ch, ch, i + 1))
            i += 1
        elif m := NAME_RE.match(text, i):
            tokens.append(Token("name", m.group(), i + 1))
            i = m.end()
        else:
            raise ExprError(f"unexpected character {ch!r}", i + 1)
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


class Parser:
    """Recursive descent over the token list, one method per precedence level."""

    def __init__(self, text: str, known: Iterable[str] | None) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.known = None if known is None else set(known)

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise ExprError("empty expression", 1)
        node = self.chain(min(PRECEDENCE.values()))
        if self.tok.kind == ")":
            raise ExprError("unmatched ')'", self.tok.column)
        if self.tok.kind != "end":
            prev = self.tokens[self.pos - 1]
            raise ExprError(
                f"missing operator between {prev.text!r} and {self.tok.text!r}", self.tok.column
            )
        return node

    def chain(self, level: int) -> Node:
        if level > max(PRECEDENCE.values()):
            return self.atom()
        operands = [self.chain(level + 1)]
        op = next(o for o, p in PRECEDENCE.items() if p == level)
        while self.tok.kind == "op" and self.tok.text == op:
            self.pos += 1
            operands.append(self.chain(level + 1))
        return operands[0] if len(operands) == 1 else Op(op, tuple(operands))

    def atom(self) -> Node:
        tok = self.tok
        if tok.kind == "name":
            if self.known is not None and tok.text not in self.known:
                raise ExprError(f"unknown task {tok.text!r}", tok.column)
            self.pos += 1
            return Task(tok.text)
        if tok.kind == "(":
            self.pos += 1
            if self.tok.kind == ")":
                raise ExprError("empty parentheses", self.tok.column)
            inner = self.chain(min(PRECEDENCE.values()))
            if self.tok.kind != ")":
                if self.tok.kind == "end":
                    raise ExprError("unclosed '('", tok.column)
                prev = self.tokens[self.pos - 1]
                raise ExprError(
                    f"missing operator between {prev.text!r} and {self.tok.text!r}",
                    self.tok.column,
                )
            self.pos += 1
            return inner
        # An operator, ')' or the end where an operand belongs.
        before = self.tokens[self.pos - 1] if self.pos else None
        if before is not None and before.kind == "op":
            raise ExprError(f"missing operand after {before.text!r}", tok.column)
        what = "the end" if tok.kind == "end" else repr(tok.text)
        raise ExprError(f"missing operand before {what}", tok.column)


def parse(text: str, known: Iterable[str] | None = None) -> Node:
    """Parse `text`; with `known`, a task name outside it is an error."""
    return Parser(text, known).parse()


def to_text(node: Node) -> str:
    """Print a tree in the shortest form that parses back to the same tree."""
    if isinstance(node, Task):
        return node.name
    parts = []
    for child in node.operands:
        text = to_text(child)
        if isinstance(child, Op) and PRECEDENCE[child.op] <= PRECEDENCE[node.op]:
            text = f"({text})"
        parts.append(text)
    sep = "; " if node.op == ";" else f" {node.op} "
    return sep.join(parts)


def task_names(node: Node) -> list[str]:
    """Task names in the order they first appear."""
    if isinstance(node, Task):
        return [node.name]
    seen: dict[str, None] = {}
    for child in node.operands:
        seen.update(dict.fromkeys(task_names(child)))
    return list(seen)
