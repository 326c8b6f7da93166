"""The memory modes are the retarded memory integral in state-variable form."""

from __future__ import annotations

import numpy as np
import pytest
import ufl
from model_setup import QUIET, advance, make
from scipy import integrate

TAUS, WEIGHTS = [1.0, 5.0], [0.6, 0.4]


def retarded_memory(t: float) -> float:
    """sum_k w_k int_0^t exp(-(t - t')/tau_k) f(u(t')) dt' for u = sin, f(u) = u|u|."""
    total = 0.0
    for tau, weight in zip(TAUS, WEIGHTS, strict=True):
        value, _ = integrate.quad(
            lambda s, tau=tau: np.exp(-(t - s) / tau) * np.sin(s) * abs(np.sin(s)),
            0.0,
            t,
            limit=200,
        )
        total += weight * value
    return total


@pytest.mark.parametrize("scheme", ["sbdf1", "sbdf2"])
def test_modes_equal_the_temporal_memory_integral(scheme):
    """D_M = 0, u(t) = sin t prescribed (du/dt = cos t): M(t) against quadrature."""
    t_end = 6.0
    reference = retarded_memory(t_end)
    errors = []
    steps = [0.1, 0.05, 0.025]
    for dt in steps:
        data = {
            "mesh": {"kind": "box", "dim": 1, "size": 1.0, "h": 0.5},
            "time": {"dt": dt, "t_end": t_end, "scheme": scheme},
            "field": {"D": 0.0, "decay": 0.0, "feedback": 0.0},
            "memory": {"D": 0.0, "tau": TAUS, "weight": WEIGHTS},
            **QUIET,
        }
        simulation = make(data, {"u": lambda x, t: ufl.cos(t)})
        advance(simulation, t_end)
        errors.append(abs(simulation.model.M.x.array - reference).max())
        simulation.close()
    order = 1 if scheme == "sbdf1" else 2
    assert abs(reference) > 0.1
    # First order: about 1.3 dt; second order: about 3 dt^2 (relative to |M| ~ 0.5).
    assert errors[-1] < (0.1 if order == 1 else 5e-3) * abs(reference), errors
    observed = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(observed > order - 0.25), (errors, observed)


def heat_kernel_memory(
    x: np.ndarray,
    t: float,
    centre: float,
    amplitude: float,
    radius: float,
    diffusivity: float,
    tau: float,
) -> np.ndarray:
    """int_0^t exp(-s/tau) (H_{D s} * f)(x) ds for f = A^2 exp(-2 (x - c)^2 / r^2).

    f is a Gaussian of variance sigma0^2 = r^2 / 4; the heat kernel widens it to
    sigma0^2 + 2 D s, keeping its integral.
    """
    var0 = radius**2 / 4
    out = np.empty_like(x)
    for i, xi in enumerate(x):

        def integrand(s, xi=xi):
            var = var0 + 2 * diffusivity * s
            return (
                np.exp(-s / tau)
                * amplitude**2
                * np.sqrt(var0 / var)
                * np.exp(-((xi - centre) ** 2) / (2 * var))
            )

        out[i], _ = integrate.quad(integrand, 0.0, t, limit=200)
    return out


def test_diffusing_memory_equals_the_heat_kernel_convolution():
    """D_M > 0 on a long interval, u a fixed Gaussian: M against the convolution."""
    length, t_end, D, tau, amplitude, radius = 20.0, 4.0, 0.5, 2.0, 1.0, 1.0
    centre = length / 2
    errors = []
    for h, dt in [(0.2, 0.1), (0.1, 0.05), (0.05, 0.025)]:
        data = {
            "mesh": {"kind": "box", "dim": 1, "size": length, "h": h},
            "time": {"dt": dt, "t_end": t_end, "scheme": "sbdf2"},
            "field": {
                "D": 0.0,
                "decay": 0.0,
                "feedback": 0.0,
                "initial": f"{amplitude}*exp(-(x - {centre})**2 / {radius}**2)",
            },
            "memory": {"D": D, "tau": [tau], "weight": [1.0]},
            **QUIET,
        }
        simulation = make(data)
        advance(simulation, t_end)
        x = simulation.model.coordinates[:, 0]
        reference = heat_kernel_memory(x, t_end, centre, amplitude, radius, D, tau)
        errors.append(np.abs(simulation.model.M.x.array - reference).max() / reference.max())
        simulation.close()
    assert errors[-1] < 2e-3, errors
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[1] / errors[2] > 3.0, errors
