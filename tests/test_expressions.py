"""The user-expression language: what it accepts, what it refuses and where it points."""

from __future__ import annotations

import ast
import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from bmf_fem.errors import ConfigError
from bmf_fem.expressions import (
    VOCABULARY,
    Expression,
    ExpressionError,
    as_interpolant,
    parse_expression,
)

COORDINATES = ("x", "y", "z")


def parse(text: str, allowed=VOCABULARY, where: str = "field.reaction") -> Expression:
    return parse_expression(text, allowed, where)


def rejection(text: str, allowed=VOCABULARY, where: str = "field.reaction") -> str:
    with pytest.raises(ExpressionError) as caught:
        parse(text, allowed, where)
    return str(caught.value)


def caret(message: str) -> tuple[str, int, int]:
    """The quoted text, and the column and width of the caret line under it."""
    lines = message.splitlines()
    for quoted, marks in itertools.pairwise(lines):
        if marks.strip() and set(marks.strip()) == {"^"}:
            opening = quoted.index('"')
            start = marks.index("^") - opening - 1
            return quoted[opening + 1 : quoted.rindex('"')], start, marks.count("^")
    raise AssertionError(f"no caret line in:\n{message}")


# ---------------------------------------------------------------------------------------
# Numbers


@pytest.mark.parametrize(
    ("text", "namespace", "expected"),
    [
        ("u*abs(u)", {"u": np.array([-2.0, 0.5, 3.0])}, [-4.0, 0.25, 9.0]),
        ("-u**2", {"u": 3.0}, -9.0),  # ** binds tighter than unary minus
        ("2**-1", {}, 0.5),
        ("1 + 2*3**2", {}, 19.0),
        ("2**3**2", {}, 512.0),  # ** is right-associative
        ("(1 + 2)*3", {}, 9.0),
        ("7/2", {}, 3.5),  # true division
        ("8 - 3 - 2", {}, 3.0),
        ("exp(1)", {}, math.e),
        ("log(exp(2)) + sqrt(16)", {}, 6.0),
        ("sin(pi/2) + cos(pi) + tanh(0)", {}, 0.0),
        ("tanh(1)", {}, math.tanh(1.0)),
        ("+x - -y", {"x": 1.0, "y": 2.0}, 3.0),
        ("1e-3*x", {"x": 2000.0}, 2.0),
        ("phi - M + s*t", {"phi": 5.0, "M": 2.0, "s": -1.0, "t": 4.0}, -1.0),
        ("x**-1", {"x": np.array([1, 2, 4])}, [1.0, 0.5, 0.25]),  # integer input arrays
        (
            "min(x, y, 0.5)",
            {"x": np.array([0.1, 0.9, 0.7]), "y": np.array([0.2, 0.3, 0.8])},
            [0.1, 0.3, 0.5],
        ),
        ("max(x, -x)", {"x": np.array([-1.5, 2.0])}, [1.5, 2.0]),
        ("max(x, 1)", {"x": np.array([[0.0, 3.0], [2.0, -1.0]])}, [[1.0, 3.0], [2.0, 1.0]]),
    ],
)
def test_to_numpy_values(text, namespace, expected):
    value = parse(text).to_numpy(namespace)
    np.testing.assert_allclose(value, expected, rtol=1e-14, atol=1e-15)
    assert np.shape(value) == np.shape(expected)


def test_constant_expression_gives_a_float():
    expression = parse("2*pi")
    assert expression.is_constant
    assert expression.names == frozenset()
    value = expression.to_numpy({})
    assert isinstance(value, float)
    assert value == pytest.approx(2 * math.pi, rel=1e-15)


def test_names_are_the_variables_used():
    expression = parse("exp(-(x**2 + y**2)/0.01) * max(u, 0) + pi")
    assert expression.names == frozenset({"x", "y", "u"})
    assert not expression.is_constant


def test_text_is_kept_exactly_and_equality_follows_it():
    expression = parse("  u*abs(u) ")
    assert expression.text == "  u*abs(u) "
    assert str(expression) == "  u*abs(u) "
    assert parse("u", where="a") == parse("u", where="b")
    assert hash(parse("u", where="a")) == hash(parse("u", where="b"))
    assert parse("u") != parse("u + 0")
    assert parse("x", COORDINATES) != parse("x", VOCABULARY)


def test_to_numpy_result_is_a_new_array():
    x = np.array([1.0, 2.0])
    result = parse("x").to_numpy({"x": x})
    result[0] = 99.0
    assert x[0] == 1.0


def test_missing_value_is_a_key_error():
    with pytest.raises(KeyError, match="needs values for u"):
        parse("u + x").to_numpy({"x": 1.0})


# ---------------------------------------------------------------------------------------
# Refusals, with the caret under the offending part


@pytest.mark.parametrize(
    ("text", "start", "width", "problem"),
    [
        ("__import__('os')", 0, 10, "unknown function '__import__'"),
        ("__import__('os').system('true')", 0, 23, "only the functions"),
        ("x.real", 0, 6, "attribute access"),
        ("u + x.real", 4, 6, "attribute access"),
        ("x[0]", 0, 4, "indexing"),
        ("1 if x else 2", 0, 13, "conditional expressions"),
        ("foo(x)", 0, 3, "unknown function 'foo'"),
        ("u + ln(u)", 4, 2, "unknown function 'ln' (did you mean log?)"),
        ("2 * exp(x, y)", 4, 9, "exp takes exactly 1 argument, got 2"),
        ("sqrt()", 0, 6, "sqrt takes exactly 1 argument, got 0"),
        ("max(x)", 0, 6, "max takes 2 or more arguments, got 1"),
        ("exp(x=1)", 4, 3, "keyword arguments"),
        ("min(*x)", 4, 2, "unpacking"),
        ("x < 1", 0, 5, "comparisons"),
        ("u and x", 0, 7, "'and' / 'or'"),
        ("not u", 0, 5, "'not'"),
        ("lambda: 1", 0, 9, "lambda"),
        ("u + 'a'", 4, 3, "strings"),
        ("u ^ 2", 0, 5, "for a power write a**b"),
        ("u // 2", 0, 6, "the operator '//'"),
        ("u % 2", 0, 5, "the operator '%'"),
        ("exp + 1", 0, 3, "'exp' is a function; call it as exp(...)"),
        ("x(1)", 0, 1, "'x' is not a function"),
        ("np.exp(x)", 0, 6, "only the functions"),
        ("True + x", 0, 4, "the boolean True"),
        ("2j", 0, 2, "complex numbers"),
        ("(x, y)", 0, 6, "a tuple"),
        ("[x]", 0, 3, "a list"),
        ("x + (y := 2)", 5, 6, "assignments"),
        ("q + 1", 0, 1, "unknown name 'q'"),
        ("2*Pi", 2, 2, "unknown name 'Pi' (did you mean pi?)"),
        ("-u + log(0)", 5, 6, "evaluates to -inf"),
        ("u * exp(1000)", 4, 9, "evaluates to inf"),
        ("x + 1/0", 4, 3, "evaluates to inf"),
        ("x + 0/0", 4, 3, "evaluates to nan"),
        ("1e400", 0, 5, "evaluates to inf"),
        ("x $ 2", 2, 1, "syntax error"),
        ("2 * (x + 1", 4, 1, "syntax error ('(' was never closed)"),
        ("u +", 3, 1, "the expression is incomplete"),
    ],
)
def test_refused_with_caret_at_the_offending_part(text, start, width, problem):
    message = rejection(text)
    first_line = message.splitlines()[0]
    assert first_line.startswith("field.reaction: ")
    assert problem in first_line
    shown, caret_start, caret_width = caret(message)
    assert shown == text
    assert (caret_start, caret_width) == (start, width)


def test_caret_columns_count_characters_not_bytes():
    message = rejection("é + q", allowed={"é"})
    assert "unknown name 'q'" in message
    assert caret(message)[1:] == (4, 1)


def test_name_outside_the_setting_is_refused_and_valid_names_listed():
    message = rejection("exp(-u) * x", COORDINATES, "field.initial")
    assert message.startswith("field.initial: the name 'u' is not available in this setting")
    assert caret(message)[1:] == (5, 1)
    valid = " ".join(message.splitlines()[3:])
    assert "the names x, y, z," in valid
    for function in ("exp", "log", "sqrt", "sin", "cos", "tanh", "abs", "min", "max"):
        assert function in valid
    assert "pi" in valid


def test_caret_points_into_the_right_line_of_a_multiline_text():
    message = rejection("exp(\n x +\n  foo)")
    assert "unknown name 'foo'" in message
    assert '    line 3: "  foo)"' in message
    assert caret(message)[1:] == (2, 3)


def test_long_text_is_shown_around_the_problem():
    text = "x + " * 50 + "foo(x)"
    message = rejection(text)
    shown, start, width = caret(message)
    assert len(shown) < 100
    assert shown[start : start + width] == "foo"


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_is_refused(text):
    assert "the expression is empty (write 0 for zero)" in rejection(text)


@pytest.mark.parametrize(
    "text",
    ["+".join(["x"] * 500), "-" * 100_000 + "x", "(" * 300 + "x" + ")" * 300, "u\x00"],
)
def test_pathological_texts_are_expression_errors(text):
    with pytest.raises(ExpressionError):
        parse(text)


def test_refused_code_has_no_side_effect(tmp_path):
    marker = tmp_path / "marker"
    with pytest.raises(ExpressionError):
        parse(f"__import__('os').system('touch {marker}')")
    assert not marker.exists()


def test_expression_error_is_a_config_error_and_a_value_error():
    with pytest.raises(ExpressionError) as caught:
        parse("foo(x)")
    assert isinstance(caught.value, ConfigError)
    assert isinstance(caught.value, ValueError)
    assert caught.value.where == "field.reaction"


def test_module_never_calls_eval_exec_or_compile():
    """Neither the public face nor the grammar, checker and walker it is built from."""
    import bmf_fem.expressions as module

    folder = Path(module.__file__).parent
    paths = [Path(module.__file__), *sorted(folder.glob("expression_*.py"))]
    assert len(paths) >= 4
    for path in paths:
        called = {
            node.func.id
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert called.isdisjoint({"eval", "exec", "compile", "__import__"}), path.name


# ---------------------------------------------------------------------------------------
# Interpolation callables


def test_interpolant_broadcasts_constants_and_uses_coordinates():
    X = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [0.0, 0.0, 1.0]])
    constant = as_interpolant(parse("-1", COORDINATES))(X)
    assert constant.shape == (3,)
    np.testing.assert_array_equal(constant, [-1.0, -1.0, -1.0])
    varying = as_interpolant(parse("x + 2*y - z + t"), t=0.5)(X)
    np.testing.assert_allclose(varying, [6.5, 9.5, 11.5], rtol=1e-15)


def test_interpolant_refuses_state_names():
    with pytest.raises(ValueError, match="uses u"):
        as_interpolant(parse("u + x"))


def test_interpolant_fills_a_dolfinx_function():
    from dolfinx import fem, mesh
    from mpi4py import MPI

    domain = mesh.create_unit_square(MPI.COMM_WORLD, 4, 3)
    space = fem.functionspace(domain, ("Lagrange", 2))
    function = fem.Function(space)
    function.interpolate(as_interpolant(parse("x + 2*y**2", COORDINATES, "field.initial")))
    points = space.tabulate_dof_coordinates()
    expected = points[:, 0] + 2 * points[:, 1] ** 2
    np.testing.assert_allclose(function.x.array, expected, rtol=0, atol=1e-14)


# ---------------------------------------------------------------------------------------
# UFL translation, checked by integrating over the unit interval


@pytest.fixture(scope="module")
def interval():
    from dolfinx import mesh
    from mpi4py import MPI

    # Ten cells: vertices at 0.4, 0.5 and 0.6, where the kinks of abs/min/max below are.
    return mesh.create_unit_interval(MPI.COMM_WORLD, 10)


def integrate(domain, integrand) -> float:
    import ufl
    from dolfinx import fem
    from mpi4py import MPI

    dx = ufl.Measure("dx", domain=domain, metadata={"quadrature_degree": 30})
    local = fem.assemble_scalar(fem.form(integrand * dx))
    return domain.comm.allreduce(local, op=MPI.SUM)


@pytest.mark.parametrize(
    ("text", "exact"),
    [
        ("exp(x)", math.e - 1),
        ("sin(pi*x)", 2 / math.pi),
        ("cos(pi*x/2)", 2 / math.pi),
        ("sqrt(1 + x)", 2 / 3 * (2**1.5 - 1)),
        ("log(1 + x)", 2 * math.log(2) - 1),
        ("tanh(x)", math.log(math.cosh(1.0))),
        ("abs(x - 0.5)", 0.25),
        ("min(x, 1 - x)", 0.25),
        ("max(x, 1 - x, 0.6)", 0.76),
        ("2**x - x**3/3", 1 / math.log(2) - 1 / 12),
        ("-x**2 + 1", 2 / 3),
    ],
)
def test_to_ufl_integrates_to_the_exact_value(interval, text, exact):
    import ufl

    x = ufl.SpatialCoordinate(interval)
    integrand = parse(text, COORDINATES).to_ufl({"x": x[0]})
    assert integrate(interval, integrand) == pytest.approx(exact, rel=0, abs=1e-10)


def test_to_ufl_with_constants_and_plain_numbers(interval):
    import ufl
    from dolfinx import fem

    x = ufl.SpatialCoordinate(interval)
    namespace = {"u": fem.Constant(interval, -2.0), "M": x[0], "t": 1.0}
    integrand = parse("u*abs(u) + M*exp(-t)").to_ufl(namespace)
    assert integrate(interval, integrand) == pytest.approx(-4 + 0.5 / math.e, abs=1e-12)


def test_to_ufl_of_a_constant_expression_is_a_float():
    value = parse("2*pi + sqrt(4)").to_ufl({})
    assert isinstance(value, float)
    assert value == pytest.approx(2 * math.pi + 2, rel=1e-15)


def test_to_ufl_agrees_with_to_numpy(interval):
    import ufl

    text = "exp(-x)*sin(pi*x) + max(x, 0.5)**2 - log(1 + x)/sqrt(1 + x)"
    expression = parse(text, COORDINATES)
    x = ufl.SpatialCoordinate(interval)
    assembled = integrate(interval, expression.to_ufl({"x": x[0]}))

    # Reference: 20-point Gauss-Legendre on each of the ten cells, values from numpy.
    nodes, weights = np.polynomial.legendre.leggauss(20)
    edges = np.linspace(0.0, 1.0, 11)
    reference = 0.0
    for left, right in itertools.pairwise(edges):
        points = left + (right - left) * (nodes + 1) / 2
        reference += (right - left) / 2 * weights @ expression.to_numpy({"x": points})
    assert assembled == pytest.approx(reference, rel=0, abs=1e-12)
