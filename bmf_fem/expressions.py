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

The vocabulary lives in `bmf_fem.expression_grammar`, the checking in
`bmf_fem.expression_check` and the walker in `bmf_fem.expression_eval`; this module is
the public face: `parse_expression`, `Expression` and `as_interpolant`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from bmf_fem.expression_check import ExpressionError, parse_and_check
from bmf_fem.expression_eval import (
    NUMPY_OPERATIONS,
    UFL_OPERATIONS,
    as_real_array,
    evaluate,
    is_number,
)
from bmf_fem.expression_grammar import (
    CONSTANTS,
    COORDINATES,
    FUNCTIONS,
    MANY_ARGUMENT_FUNCTIONS,
    MAX_NESTING,
    ONE_ARGUMENT_FUNCTIONS,
    VOCABULARY,
)

__all__ = [
    "CONSTANTS",
    "COORDINATES",
    "FUNCTIONS",
    "MANY_ARGUMENT_FUNCTIONS",
    "MAX_NESTING",
    "ONE_ARGUMENT_FUNCTIONS",
    "VOCABULARY",
    "Expression",
    "ExpressionError",
    "as_interpolant",
    "parse_expression",
]


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
        self._tree, self._names = parse_and_check(text, self._allowed, where)

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
        result = evaluate(self._tree, values, UFL_OPERATIONS)
        return float(result) if is_number(result) else result

    def to_numpy(self, namespace: Mapping[str, Any]) -> np.ndarray | float:
        """Evaluate with numpy; names map to floats or arrays, which broadcast.

        Returns a float when every value is a scalar (or the expression is constant),
        otherwise a new float array.
        """
        values = {name: as_real_array(value) for name, value in self._lookup(namespace).items()}
        result = evaluate(self._tree, values, NUMPY_OPERATIONS)
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
