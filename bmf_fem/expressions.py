"""User expressions: a small arithmetic language, parsed with `ast` and never run by Python.

Settings such as ``field.reaction``, ``memory.source`` and the initial conditions are
strings like ``"u*abs(u)"`` or ``"exp(-(x**2 + y**2)/0.01)"``. The language has numbers,
the names the setting allows (from u, M, phi, s, x, y, z, t), the constant ``pi``, binary
``+ - * / **``, unary ``+ -``, parentheses, the one-argument functions exp, log, sqrt, sin,
cos, tanh, abs and the two-or-more-argument functions min, max.

The text is parsed with ``ast.parse(mode="eval")`` and the syntax tree is checked node by
node against that grammar; anything else is an `ExpressionError` that points at the
offending characters. A checked tree is then walked with an explicit table of operations,
either into a UFL expression (`Expression.to_ufl`) or into numpy arrays
(`Expression.to_numpy`). Nothing is ever handed to ``eval``, ``exec`` or ``compile``.
"""

from __future__ import annotations

import ast
import difflib
import math
import numbers
import textwrap
from collections.abc import Callable, Iterable, Mapping
from functools import reduce
from typing import Any, NoReturn

import numpy as np

from bmf_fem.errors import ConfigError

VOCABULARY = ("u", "M", "phi", "s", "x", "y", "z", "t")
"""Every name an expression can use; each setting allows a subset."""

COORDINATES = ("x", "y", "z")
CONSTANTS = {"pi": math.pi}
ONE_ARGUMENT_FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tanh", "abs")
MANY_ARGUMENT_FUNCTIONS = ("min", "max")
FUNCTIONS = ONE_ARGUMENT_FUNCTIONS + MANY_ARGUMENT_FUNCTIONS
MAX_NESTING = 200
"""Deepest syntax tree accepted; deeper ones are rejected before they are walked."""

_OPERATOR_SYMBOLS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.LShift: "<<",
    ast.RShift: ">>",
}
_ALLOWED_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)

_FORBIDDEN_NODES: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access (a '.' after a name) is not allowed",
    ast.Subscript: "indexing with [...] is not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "'and' / 'or' are not allowed",
    ast.IfExp: "conditional expressions ('a if c else b') are not allowed; use min/max",
    ast.Lambda: "lambda is not allowed",
    ast.Tuple: "a tuple (comma outside a function call) is not allowed",
    ast.List: "a list [...] is not allowed",
    ast.Set: "a set {...} is not allowed",
    ast.Dict: "a dict {...} is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.NamedExpr: "assignments (':=') are not allowed",
    ast.Starred: "unpacking with '*' is not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
}

_NAME_HINTS = {"ln": "log", "e": "exp(1)", "PI": "pi", "Pi": "pi", "pow": "a**b", "power": "a**b"}


class ExpressionError(ConfigError, ValueError):
    """An expression text that is not in the language; the message points at the text."""

    def __init__(self, message: str, where: str, text: str) -> None:
        super().__init__(message)
        self.where = where
        self.text = text


class Expression:
    """A checked user expression: its source text, the names it uses, and translations.

    Build one with `parse_expression`. Two expressions are equal when their texts and
    allowed names are equal.
    """

    __slots__ = ("_allowed", "_names", "_text", "_tree", "_where")

    def __init__(self, text: str, allowed: Iterable[str], where: str = "expression") -> None:
        if not isinstance(text, str):
            raise TypeError(f"{where}: expression text must be a str, got {type(text).__name__}")
        self._text = text
        self._allowed = frozenset(allowed)
        self._where = where
        self._tree, self._names = _parse_and_check(text, self._allowed, where)

    @property
    def text(self) -> str:
        """The source text, exactly as given."""
        return self._text

    @property
    def names(self) -> frozenset[str]:
        """The variable names the expression uses (not functions, not pi)."""
        return self._names

    @property
    def allowed(self) -> frozenset[str]:
        """The names the expression was allowed to use."""
        return self._allowed

    @property
    def where(self) -> str:
        """The setting the expression came from, used in messages."""
        return self._where

    @property
    def is_constant(self) -> bool:
        """True when the expression uses no names, so it is a single number."""
        return not self._names

    def to_ufl(self, namespace: Mapping[str, Any]) -> Any:
        """Translate to UFL, with each name replaced by ``namespace[name]``.

        Namespace values are UFL expressions (functions, constants, coordinate
        components) or plain numbers. Parts that involve only numbers are computed
        directly, so a constant expression gives a float the caller wraps as it likes.
        """
        values = self._lookup(namespace)
        result = _evaluate(self._tree, values, _UFL_OPERATIONS)
        return float(result) if _is_number(result) else result

    def to_numpy(self, namespace: Mapping[str, Any]) -> np.ndarray | float:
        """Evaluate with numpy; names map to floats or arrays, which broadcast.

        Returns a float when every value is a scalar (or the expression is constant),
        otherwise a new float array.
        """
        values = {name: _as_real_array(value) for name, value in self._lookup(namespace).items()}
        result = _evaluate(self._tree, values, _NUMPY_OPERATIONS)
        if np.ndim(result) == 0:
            return float(result)
        return np.array(result, dtype=np.float64)

    def _lookup(self, namespace: Mapping[str, Any]) -> dict[str, Any]:
        missing = sorted(self._names.difference(namespace))
        if missing:
            raise KeyError(f"{self._where} = {self._text!r} needs values for {', '.join(missing)}")
        return {name: namespace[name] for name in self._names}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expression):
            return NotImplemented
        return self._text == other._text and self._allowed == other._allowed

    def __hash__(self) -> int:
        return hash((self._text, self._allowed))

    def __repr__(self) -> str:
        return f"Expression({self._text!r})"

    def __str__(self) -> str:
        return self._text


def parse_expression(text: str, allowed: Iterable[str], where: str) -> Expression:
    """Parse and check `text`, which may use the names in `allowed`, for setting `where`.

    Raises `ExpressionError` naming `where`, quoting the text with a caret under the
    offending part and listing what is valid.
    """
    return Expression(text, allowed, where)


def as_interpolant(expression: Expression, t: float = 0.0) -> Callable[[np.ndarray], np.ndarray]:
    """A callable for ``dolfinx.fem.Function.interpolate`` evaluating an expression of x, y, z, t.

    The callable takes points ``X`` of shape (3, n) and returns n values, also when the
    expression is constant.
    """
    others = sorted(expression.names.difference((*COORDINATES, "t")))
    if others:
        raise ValueError(
            f"{expression.where} = {expression.text!r} uses {', '.join(others)}; only x, y, z"
            " and t can be interpolated"
        )

    def interpolant(X: np.ndarray) -> np.ndarray:
        namespace: dict[str, Any] = {"t": t}
        for axis, name in enumerate(COORDINATES):
            namespace[name] = X[axis] if axis < X.shape[0] else 0.0
        values = np.empty(X.shape[1], dtype=np.float64)
        values[:] = expression.to_numpy(namespace)
        return values

    return interpolant


# ---------------------------------------------------------------------------------------
# Parsing and checking


def _parse_and_check(
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
            problem = _FORBIDDEN_NODES.get(type(node), f"{type(node).__name__} is not allowed")
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
        hint = _NAME_HINTS.get(name) or _close_match(name, [*self.allowed, *CONSTANTS])
        suffix = f" (did you mean {hint}?)" if hint else ""
        self.fail(node, f"unknown name '{name}'{suffix}")

    def check_operator(self, node: ast.BinOp) -> None:
        if isinstance(node.op, _ALLOWED_OPERATORS):
            return
        symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
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
            hint = _NAME_HINTS.get(name) or _close_match(name, FUNCTIONS)
            suffix = f" (did you mean {hint}?)" if hint else ""
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
            value = float(_evaluate(node, {}, _NUMPY_OPERATIONS))
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


def _close_match(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to `word` (case-insensitive), if any is close."""
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    if word.lower() in by_lower:
        return by_lower[word.lower()]
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[matches[0]] if matches else None


# ---------------------------------------------------------------------------------------
# Evaluation: one walker, two tables of operations


def _evaluate(node: ast.expr, values: Mapping[str, Any], operations: _Operations) -> Any:
    """The value of a checked tree, computed with `operations`."""
    if isinstance(node, ast.Constant):
        return operations.number(float(node.value))
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return operations.number(CONSTANTS[node.id])
        return values[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, values, operations)
        return operations.negate(operand) if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left = _evaluate(node.left, values, operations)
        right = _evaluate(node.right, values, operations)
        return operations.binary(type(node.op), left, right)
    if isinstance(node, ast.Call):
        arguments = [_evaluate(argument, values, operations) for argument in node.args]
        return operations.call(node.func.id, arguments)
    raise AssertionError(f"unchecked node {ast.dump(node)}")  # the checker prevents this


class _Operations:
    """What the evaluator needs from a backend."""

    def number(self, value: float) -> Any:
        raise NotImplementedError

    def negate(self, operand: Any) -> Any:
        raise NotImplementedError

    def binary(self, operator: type[ast.operator], left: Any, right: Any) -> Any:
        raise NotImplementedError

    def call(self, name: str, arguments: list[Any]) -> Any:
        raise NotImplementedError


_NUMPY_BINARIES: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.Pow: np.power,
}
_NUMPY_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
    "abs": np.abs,
}


class _NumpyOperations(_Operations):
    """numpy ufuncs: arrays broadcast, numbers stay numpy scalars."""

    def number(self, value: float) -> np.float64:
        return np.float64(value)

    def negate(self, operand: Any) -> Any:
        return np.negative(operand)

    def binary(self, operator: type[ast.operator], left: Any, right: Any) -> Any:
        return _NUMPY_BINARIES[operator](left, right)

    def call(self, name: str, arguments: list[Any]) -> Any:
        if name == "min":
            return reduce(np.minimum, arguments)
        if name == "max":
            return reduce(np.maximum, arguments)
        return _NUMPY_FUNCTIONS[name](arguments[0])


class _UflOperations(_Operations):
    """UFL operators; parts with numbers only are computed with numpy and stay floats."""

    def number(self, value: float) -> float:
        return value

    def negate(self, operand: Any) -> Any:
        return -operand

    def binary(self, operator: type[ast.operator], left: Any, right: Any) -> Any:
        if _is_number(left) and _is_number(right):
            return float(_NUMPY_OPERATIONS.binary(operator, np.float64(left), np.float64(right)))
        if operator is ast.Add:
            return left + right
        if operator is ast.Sub:
            return left - right
        if operator is ast.Mult:
            return left * right
        if operator is ast.Div:
            return left / right
        if _is_number(right) and float(right).is_integer() and abs(right) < 2**31:
            right = int(right)  # an integer power, for simpler generated code
        return left**right

    def call(self, name: str, arguments: list[Any]) -> Any:
        if all(_is_number(argument) for argument in arguments):
            numeric = [np.float64(argument) for argument in arguments]
            return float(_NUMPY_OPERATIONS.call(name, numeric))
        import ufl

        if name == "min":
            return reduce(ufl.min_value, arguments)
        if name == "max":
            return reduce(ufl.max_value, arguments)
        if name == "abs":
            return abs(arguments[0])
        functions = {
            "exp": ufl.exp,
            "log": ufl.ln,
            "sqrt": ufl.sqrt,
            "sin": ufl.sin,
            "cos": ufl.cos,
            "tanh": ufl.tanh,
        }
        return functions[name](arguments[0])


_NUMPY_OPERATIONS = _NumpyOperations()
_UFL_OPERATIONS = _UflOperations()


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _as_real_array(value: Any) -> Any:
    """Numbers and arrays as float64 (integers would make 2**-1 fail in numpy)."""
    array = np.asarray(value)
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    return array if array.ndim else array[()]
