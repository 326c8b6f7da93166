"""Evaluating a checked expression tree: one walker, with numpy or UFL operations."""

from __future__ import annotations

import ast
import numbers
from collections.abc import Callable, Mapping
from functools import reduce
from typing import Any

import numpy as np

from bmf_fem.expression_grammar import CONSTANTS


def evaluate(node: ast.expr, values: Mapping[str, Any], operations: Operations) -> Any:
    """The value of a checked tree, computed with `operations`."""
    if isinstance(node, ast.Constant):
        return operations.number(float(node.value))
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return operations.number(CONSTANTS[node.id])
        return values[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = evaluate(node.operand, values, operations)
        return operations.negate(operand) if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left = evaluate(node.left, values, operations)
        right = evaluate(node.right, values, operations)
        return operations.binary(type(node.op), left, right)
    if isinstance(node, ast.Call):
        arguments = [evaluate(argument, values, operations) for argument in node.args]
        return operations.call(node.func.id, arguments)
    raise AssertionError(f"unchecked node {ast.dump(node)}")  # the checker prevents this


class Operations:
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


class _NumpyOperations(Operations):
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


class _UflOperations(Operations):
    """UFL operators; parts with numbers only are computed with numpy and stay floats."""

    def number(self, value: float) -> float:
        return value

    def negate(self, operand: Any) -> Any:
        return -operand

    def binary(self, operator: type[ast.operator], left: Any, right: Any) -> Any:
        if is_number(left) and is_number(right):
            return float(NUMPY_OPERATIONS.binary(operator, np.float64(left), np.float64(right)))
        if operator is ast.Add:
            return left + right
        if operator is ast.Sub:
            return left - right
        if operator is ast.Mult:
            return left * right
        if operator is ast.Div:
            return left / right
        if is_number(right) and float(right).is_integer() and abs(right) < 2**31:
            right = int(right)  # an integer power, for simpler generated code
        return left**right

    def call(self, name: str, arguments: list[Any]) -> Any:
        if all(is_number(argument) for argument in arguments):
            numeric = [np.float64(argument) for argument in arguments]
            return float(NUMPY_OPERATIONS.call(name, numeric))
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


NUMPY_OPERATIONS = _NumpyOperations()
UFL_OPERATIONS = _UflOperations()


def is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def as_real_array(value: Any) -> Any:
    """Numbers and arrays as float64 (integers would make 2**-1 fail in numpy)."""
    array = np.asarray(value)
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    return array if array.ndim else array[()]
