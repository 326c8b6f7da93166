"""Manufactured solutions of the coupled system: observed orders in space and in time."""

from __future__ import annotations

import numpy as np
import pytest
import ufl
from model_setup import QUIET, advance, l2_error, make, rates

from bmf_fem.potential import SITE_POTENTIAL

PI2 = 2 * np.pi
PARAMETERS = {
    "field": {"D": 0.1, "decay": 1.0, "feedback": 0.05},
    "memory": {"D": 0.05, "tau": [2.0], "weight": [1.0]},
    "sites": {"D": 0.02, "rate": 1.0, "coupling": 0.5},
    **QUIET,
}


def steady_u(x):
    return 1 + 0.5 * ufl.cos(PI2 * x[0]) * ufl.cos(PI2 * x[1])


def steady_m(x):
    return 0.5 + 0.3 * ufl.cos(PI2 * x[0])


def steady_s(x):
    return -1 + 0.2 * ufl.cos(PI2 * x[1])


def laplacian(expression):
    return ufl.div(ufl.grad(expression))


def steady_sources():
    """Forcing that makes (steady_u, steady_m, steady_s) an exact steady state.

    The profiles have zero normal derivative on the unit square, as the no-flux
    boundary condition requires; u > 0 so f(u) = u|u| = u^2 is smooth.
    """
    f, m, s = PARAMETERS["field"], PARAMETERS["memory"], PARAMETERS["sites"]

    def field(x, t):
        return (
            -f["D"] * laplacian(steady_u(x))
            + f["decay"] * steady_u(x)
            - f["feedback"] * steady_m(x)
        )

    def memory(x, t):
        return -m["D"] * laplacian(steady_m(x)) + steady_m(x) / m["tau"][0] - steady_u(x) ** 2

    def sites(x, t):
        phi = steady_u(x) + steady_m(x)
        return -s["D"] * laplacian(steady_s(x)) - s["rate"] * SITE_POTENTIAL.force(
            steady_s(x), s["coupling"] * phi
        )

    return {"u": field, "m": memory, "s": sites}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("degree", "sizes", "expected"),
    [
        (1, [1 / 8, 1 / 16, 1 / 32], 2.0),
        (2, [1 / 4, 1 / 8, 1 / 16], 3.0),
    ],
)
def test_space_convergence_of_the_coupled_system(degree, sizes, expected):
    errors = {"u": [], "m": [], "s": []}
    for h in sizes:
        data = {
            **PARAMETERS,
            "mesh": {"kind": "box", "dim": 2, "size": 1.0, "h": h},
            "space": {"degree": degree},
            "time": {"dt": 0.5, "t_end": 40.0, "scheme": "sbdf1"},
        }
        data["field"] = {**data["field"], "initial": "1 + 0.5*cos(2*pi*x)*cos(2*pi*y)"}
        data["memory"] = {**data["memory"], "initial": "0.5 + 0.3*cos(2*pi*x)"}
        data["sites"] = {**data["sites"], "initial": "-1 + 0.2*cos(2*pi*y)"}
        simulation = make(data, steady_sources())
        advance(simulation, 40.0)
        model = simulation.model
        errors["u"].append(l2_error(model.u, steady_u))
        errors["m"].append(l2_error(model.memory_modes[0], steady_m))
        errors["s"].append(l2_error(model.s, steady_s))
        simulation.close()
    for name, values in errors.items():
        observed = rates(values, sizes)
        print(f"P{degree} {name}: L2 errors {values}, rates {observed}")
        assert np.all(observed > expected - 0.25), (name, values, observed)


def uniform_exact(t):
    """A spatially uniform exact solution: no space error, only time error."""
    return 1 + 0.5 * np.sin(t), 0.5 + 0.3 * np.sin(2 * t), -1 + 0.1 * np.sin(t)


def uniform_sources():
    f, m, s = PARAMETERS["field"], PARAMETERS["memory"], PARAMETERS["sites"]

    def field(x, t):
        u, mem = 1 + 0.5 * ufl.sin(t), 0.5 + 0.3 * ufl.sin(2 * t)
        return 0.5 * ufl.cos(t) + f["decay"] * u - f["feedback"] * mem

    def memory(x, t):
        u, mem = 1 + 0.5 * ufl.sin(t), 0.5 + 0.3 * ufl.sin(2 * t)
        return 0.6 * ufl.cos(2 * t) + mem / m["tau"][0] - u**2

    def sites(x, t):
        u, mem, site = 1 + 0.5 * ufl.sin(t), 0.5 + 0.3 * ufl.sin(2 * t), -1 + 0.1 * ufl.sin(t)
        return 0.1 * ufl.cos(t) - s["rate"] * SITE_POTENTIAL.force(site, s["coupling"] * (u + mem))

    return {"u": field, "m": memory, "s": sites}


@pytest.mark.parametrize(("scheme", "expected"), [("sbdf1", 1.0), ("sbdf2", 2.0)])
def test_time_convergence_of_the_coupled_system(scheme, expected):
    t_end = 2.0
    steps = [0.2, 0.1, 0.05, 0.025] if scheme == "sbdf1" else [0.05, 0.025, 0.0125, 0.00625]
    errors = []
    for dt in steps:
        data = {
            **PARAMETERS,
            "mesh": {"kind": "box", "dim": 2, "size": 1.0, "h": 0.25},
            "time": {"dt": dt, "t_end": t_end, "scheme": scheme},
        }
        data["field"] = {**data["field"], "initial": "1"}
        data["memory"] = {**data["memory"], "initial": "0.5"}
        data["sites"] = {**data["sites"], "initial": "-1"}
        simulation = make(data, uniform_sources())
        advance(simulation, t_end)
        model = simulation.model
        exact = uniform_exact(t_end)
        computed = (model.u.x.array, model.memory_modes[0].x.array, model.s.x.array)
        errors.append(max(np.abs(c - e).max() for c, e in zip(computed, exact, strict=True)))
        simulation.close()
    observed = rates(errors, steps)
    print(f"{scheme}: errors {errors}, rates {observed}")
    assert np.all(observed > expected - 0.25), (errors, observed)
    assert abs(observed[-1] - expected) < 0.1, (errors, observed)
