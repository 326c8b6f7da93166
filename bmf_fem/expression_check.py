"""Checking an expression text: its syntax tree accepted node by node, or an error with a caret."""

from __future__ import annotations

import ast
import math
import textwrap
from collections.abc import Iterable
from typing import NoReturn

import numpy as np

from bmf_fem.errors import ConfigError
from bmf_fem.expression_eval import NUMPY_OPERATIONS, evaluate
from bmf_fem.expression_grammar import (
    ALLOWED_OPERATORS,
    CONSTANTS,
    FORBIDDEN_NODES,
    FUNCTIONS,
    MANY_ARGUMENT_FUNCTIONS,
    MAX_NESTING,
    NAME_HINTS,
    ONE_ARGUMENT_FUNCTIONS,
    OPERATOR_SYMBOLS,
    VOCABULARY,
)
from bmf_fem.suggest import did_you_mean


class ExpressionError(ConfigError, ValueError):
    """An expression text that is not in the language; the message points at the text."""

    def __init__(self, message: str, where: str, text: str) -> None:
        super().__init__(message)
        self.where = where
        self.text = text


def parse_and_check(
    text: str, allowed: frozenset[str], where: str
) -> tuple[ast.expr, frozenset[str]]:
    """The checked syntax tree of `text` and the names it uses."""
    source = text.strip()
    checker = _Checker(source, allowed, where)
    if not source:
        checker.fail_at(0, 0, 0, "the expression is empty (write 0 for zero)")
    if "\x00" in source:
        line = source[: source.index("\x00")].count("\n")
        column = source.split("\n")[line].index("\x00")
        checker.fail_at(line, column, column + 1, "the text contains a null character")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        checker.fail_syntax(error)
    except (ValueError, RecursionError, MemoryError):
        checker.fail_at(0, 0, len(source), "the expression cannot be parsed (too long?)")
    checker.check_depth(tree.body)
    checker.check(tree.body)
    checker.check_constants(tree.body)
    return tree.body, frozenset(checker.names_used)


class _Checker:
    """Walks a syntax tree, accepting only the expression language."""

    def __init__(self, source: str, allowed: frozenset[str], where: str) -> None:
        self.source = source
        self.lines = source.split("\n")
        self.allowed = allowed
        self.where = where
        self.names_used: set[str] = set()

    # errors

    def fail_at(self, line: int, start: int, end: int, problem: str) -> NoReturn:
        """Raise with a caret under characters [start, end) of line `line` (0-based)."""
        display = self.lines[line].replace("\t", " ")
        prefix = "    " if len(self.lines) <= 1 else f"    line {line + 1}: "
        start = min(max(start, 0), len(display))
        end = min(max(end, start + 1), max(len(display), start + 1))
        display, start, end = _window(display, start, end)
        message = "\n".join(
            (
                f"{self.where}: {problem}",
                f'{prefix}"{display}"',
                " " * (len(prefix) + 1 + start) + "^" * (end - start),
                _valid_summary(self.allowed),
            )
        )
        raise ExpressionError(message, self.where, self.source)

    def fail(self, node: ast.AST, problem: str) -> NoReturn:
        line = node.lineno - 1
        encoded = self.lines[line].encode()
        start = len(encoded[: node.col_offset].decode(errors="replace"))
        if node.end_lineno == node.lineno and node.end_col_offset is not None:
            end = len(encoded[: node.end_col_offset].decode(errors="replace"))
        else:
            end = len(self.lines[line])
        self.fail_at(line, start, end, problem)

    def fail_syntax(self, error: SyntaxError) -> NoReturn:
        reason = error.msg or "invalid syntax"
        if not error.lineno or not error.offset:
            # The parser ran off the end: something is missing after the last character.
            line = len(self.lines) - 1
            width = len(self.lines[line])
            problem = f"syntax error, the expression is incomplete ({reason})"
            self.fail_at(line, width, width + 1, problem)
        line = min(error.lineno, len(self.lines)) - 1
        start = error.offset - 1
        end = start + 1
        same_line = error.end_lineno == error.lineno
        if same_line and error.end_offset and error.end_offset > error.offset:
            end = error.end_offset - 1
        self.fail_at(line, start, end, f"syntax error ({reason})")

    # structure

    def check_depth(self, root: ast.AST) -> None:
        """Reject trees nested too deeply to walk recursively (without recursing here)."""
        stack = [(root, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_NESTING:
                self.fail(root, f"the expression is nested more than {MAX_NESTING} levels deep")
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))

    def check(self, node: ast.AST) -> None:
        """Accept `node` and everything under it, or raise at the first offending part."""
        if isinstance(node, ast.Constant):
            self.check_number(node)
        elif isinstance(node, ast.Name):
            self.check_name(node)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.UAdd | ast.USub):
                symbol = "not" if isinstance(node.op, ast.Not) else "~"
                self.fail(node, f"the operator '{symbol}' is not allowed")
            self.check(node.operand)
        elif isinstance(node, ast.BinOp):
            self.check_operator(node)
            self.check(node.left)
            self.check(node.right)
        elif isinstance(node, ast.Call):
            self.check_call(node)
        else:
            problem = FORBIDDEN_NODES.get(type(node), f"{type(node).__name__} is not allowed")
            self.fail(node, problem)

    def check_number(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            self.fail(node, f"the boolean {value} is not allowed; use 1 or 0")
        if isinstance(value, str | bytes):
            self.fail(node, "strings are not allowed")
        if isinstance(value, complex):
            self.fail(node, "complex numbers are not allowed")
        if not isinstance(value, int | float):
            self.fail(node, f"{value!r} is not allowed")
        try:
            float(value)
        except OverflowError:
            self.fail(node, "this number is too large")

    def check_name(self, node: ast.Name) -> None:
        name = node.id
        if name in CONSTANTS:
            return
        if name in self.allowed:
            self.names_used.add(name)
            return
        if name in FUNCTIONS:
            self.fail(node, f"'{name}' is a function; call it as {name}(...)")
        if name in VOCABULARY:
            self.fail(node, f"the name '{name}' is not available in this setting")
        hint = NAME_HINTS.get(name)
        known = [*self.allowed, *CONSTANTS]
        suffix = f" (did you mean {hint}?)" if hint else did_you_mean(name, known)
        self.fail(node, f"unknown name '{name}'{suffix}")

    def check_operator(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ALLOWED_OPERATORS):
            return
        symbol = OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
        hint = "; for a power write a**b" if isinstance(node.op, ast.BitXor) else ""
        self.fail(node, f"the operator '{symbol}' is not allowed{hint}")

    def check_call(self, node: ast.Call) -> None:
        function = node.func
        if not isinstance(function, ast.Name):
            self.fail(function, "only the functions " + ", ".join(FUNCTIONS) + " can be called")
        name = function.id
        if name not in FUNCTIONS:
            if name in self.allowed or name in VOCABULARY or name in CONSTANTS:
                self.fail(function, f"'{name}' is not a function and cannot be called")
            hint = NAME_HINTS.get(name)
            suffix = f" (did you mean {hint}?)" if hint else did_you_mean(name, FUNCTIONS)
            self.fail(function, f"unknown function '{name}'{suffix}")
        if node.keywords:
            self.fail(node.keywords[0], "keyword arguments are not allowed")
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                self.fail(argument, "unpacking with '*' is not allowed")
        count = len(node.args)
        if name in ONE_ARGUMENT_FUNCTIONS and count != 1:
            self.fail(node, f"{name} takes exactly 1 argument, got {count}")
        if name in MANY_ARGUMENT_FUNCTIONS and count < 2:
            self.fail(node, f"{name} takes 2 or more arguments, got {count}")
        for argument in node.args:
            self.check(argument)

    # values

    def check_constants(self, root: ast.expr) -> None:
        """Reject parts made of numbers only that are not finite, such as log(0)."""
        if self._fold(root):
            self._check_finite(root)

    def _fold(self, node: ast.expr) -> bool:
        """Whether `node` uses no names; checks its largest constant parts otherwise."""
        operands = _operands(node)
        constant = [self._fold(operand) for operand in operands]
        if isinstance(node, ast.Name):
            return node.id in CONSTANTS
        if all(constant):
            return True
        for operand, is_constant in zip(operands, constant, strict=True):
            if is_constant:
                self._check_finite(operand)
        return False

    def _check_finite(self, node: ast.expr) -> None:
        with np.errstate(all="ignore"):
            value = float(evaluate(node, {}, NUMPY_OPERATIONS))
        if not math.isfinite(value):
            self.fail(node, f"this part evaluates to {value}")


def _operands(node: ast.expr) -> list[ast.expr]:
    """The sub-expressions of a checked node."""
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return list(node.args)
    return []


def _valid_summary(allowed: frozenset[str]) -> str:
    """What the language accepts, for the end of an error message."""
    names = ", ".join(_ordered_names(allowed)) or "none"
    summary = (
        f"Valid: numbers, the names {names}, the constant pi, + - * / ** and parentheses,"
        f" the functions {', '.join(ONE_ARGUMENT_FUNCTIONS)} (1 argument) and"
        f" {', '.join(MANY_ARGUMENT_FUNCTIONS)} (2 or more arguments)."
    )
    return textwrap.fill(summary, width=88)


def _window(line: str, start: int, end: int, width: int = 76) -> tuple[str, int, int]:
    """A part of a long line around [start, end), with '...' marking what was cut."""
    if len(line) <= width:
        return line, start, end
    left = max(0, start - width // 4)
    right = min(len(line), left + width)
    left = max(0, right - width)
    head = "..." if left > 0 else ""
    tail = "..." if right < len(line) else ""
    shift = len(head) - left
    return head + line[left:right] + tail, start + shift, min(end, right) + shift


def _ordered_names(names: Iterable[str]) -> list[str]:
    names = set(names)
    known = [name for name in VOCABULARY if name in names]
    return known + sorted(names.difference(VOCABULARY))
