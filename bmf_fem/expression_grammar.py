"""The expression language's vocabulary: the names, functions and operators it accepts."""

from __future__ import annotations

import ast
import math

VOCABULARY = ("u", "M", "phi", "s", "x", "y", "z", "t")
"""Every name an expression can use; each setting allows a subset."""

COORDINATES = ("x", "y", "z")
CONSTANTS = {"pi": math.pi}
ONE_ARGUMENT_FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tanh", "abs")
MANY_ARGUMENT_FUNCTIONS = ("min", "max")
FUNCTIONS = ONE_ARGUMENT_FUNCTIONS + MANY_ARGUMENT_FUNCTIONS
MAX_NESTING = 200
"""Deepest syntax tree accepted; deeper ones are rejected before they are walked."""

OPERATOR_SYMBOLS: dict[type[ast.operator], str] = {
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
ALLOWED_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)

FORBIDDEN_NODES: dict[type[ast.AST], str] = {
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

NAME_HINTS = {"ln": "log", "e": "exp(1)", "PI": "pi", "Pi": "pi", "pow": "a**b", "power": "a**b"}
