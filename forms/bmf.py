"""The BMF equations, split into an implicit linear part and explicit terms.

Every equation of the model has the form

    dw/dt = div(D grad w) - c w + N(state, x, t) + F(x, t) + sigma xi

with a diffusivity ``D`` and a linear rate ``c`` treated implicitly, explicit terms ``N``
(nonlinear, coupling) and known forcing ``F`` (inputs). An SBDF scheme of order q gives

    (beta_q / dt + c) (w^{n+1}, v) + D (grad w^{n+1}, grad v) = (history + N*, v) + ...

so the implicit operator is one bilinear form per equation, built here once in UFL with
``fem.Constant`` coefficients: changing dt, the scheme or a rate changes a value, never the
compiled form. The explicit terms are nodal (group finite element) functions of the
state, written below as NumPy on degree-of-freedom arrays:

    field u:      c = delta         N = gamma * M + R(u, M, phi, s, x, t)
    memory m_k:   c = 1 / tau_k     N = f(u, M, phi, s, x, t)
    sites s:      c = alpha * S     N = alpha * (s - s^3 + g * phi) + alpha * S * s

The site cubic is linearly stabilised: ``alpha * S * s`` is added implicitly and
subtracted explicitly, which keeps large ``alpha * dt`` stable for S >= 2 (docs/model.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import ufl
from dolfinx import fem

from bmf_fem.potential import SITE_POTENTIAL

NodalTerms = Callable[[Mapping[str, np.ndarray | float]], np.ndarray | float]


@dataclass
class Equation:
    """One scalar equation: its implicit operator and its explicit nodal terms.

    ``group`` ("u", "m" or "s") names what the equation is a part of: scripted loads,
    iteration counts and the resolved solver options are kept per group. An equation
    that ``takes_inputs`` receives the inputs' deposit and the perturbations' extra
    noise. ``symmetric`` says whether the implicit operator is; the solver follows
    from it (CG and Cholesky for symmetric operators, GMRES and LU otherwise), so a
    term that breaks the symmetry (advection) says so here and nowhere else.

    ``noise`` is the amplitude sigma of its space-time white noise, drawn from stream
    ``noise_stream`` (None: an equation without noise). ``stabilisation_rate`` is the
    part of ``rate`` that is a numerical device rather than the model's (the site
    stabilisation alpha S): the stepper keeps the noise's intensity against it.
    """

    name: str
    group: str
    operator: ufl.Form
    diffusivity: fem.Constant
    rate: fem.Constant
    explicit: NodalTerms
    noise: float = 0.0
    noise_stream: int | None = None
    stabilisation_rate: float = 0.0
    takes_inputs: bool = False
    symmetric: bool = True

    @property
    def diffuses(self) -> bool:
        """Whether the operator needs a linear solve (otherwise a pointwise update)."""
        return float(self.diffusivity.value) > 0.0


def implicit_operator(
    V: fem.FunctionSpace,
    time_factor: fem.Constant,
    dt: fem.Constant,
    rate: fem.Constant,
    diffusivity: fem.Constant,
    diffusivity_scale: fem.Function | None = None,
) -> ufl.Form:
    """``a(w, v) = (beta/dt + c) (w, v) + D s(x) (grad w, grad v)``.

    ``diffusivity_scale`` (a DG0 function, 1 by default) carries the damage
    perturbation, which multiplies diffusivities in a region.
    """
    w, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    D = diffusivity if diffusivity_scale is None else diffusivity * diffusivity_scale
    return (time_factor / dt + rate) * w * v * ufl.dx + D * ufl.inner(
        ufl.grad(w), ufl.grad(v)
    ) * ufl.dx


def mass_form(V: fem.FunctionSpace) -> ufl.Form:
    """The consistent mass matrix ``(w, v)``, which turns nodal terms into a load vector."""
    w, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    return w * v * ufl.dx


def field_terms(feedback: float, reaction: NodalTerms | None) -> NodalTerms:
    """Explicit terms of the local field: ``gamma * M + R``, into one reused array
    (the number 0.0 when there are none)."""
    buffers: dict[str, np.ndarray] = {}
    if feedback == 0.0 and reaction is None:
        return lambda state: 0.0

    def terms(state: Mapping[str, np.ndarray | float]) -> np.ndarray | float:
        memory = state["M"]
        out = buffers.get("out")
        if out is None or out.shape != np.shape(memory):
            out = buffers["out"] = np.empty(np.shape(memory))
        np.multiply(memory, feedback, out=out)
        if reaction is not None:
            out += reaction(state)
        return out

    return terms


def memory_terms(source: NodalTerms) -> NodalTerms:
    """Explicit term of every memory mode: the source ``f(u)``."""
    return source


def site_terms(rate: float, coupling: float, stabilisation: float) -> NodalTerms:
    """Explicit terms of the site field: ``alpha (force(s, g phi) + S s)``, the double
    well's force (bmf_fem.potential) plus the stabilisation, in reused arrays."""
    buffers: dict[str, np.ndarray] = {}

    def terms(state: Mapping[str, np.ndarray | float]) -> np.ndarray | float:
        s, phi = state["s"], state["phi"]
        out = buffers.get("out")
        if out is None or out.shape != np.shape(s):
            out = buffers["out"] = np.empty(np.shape(s))
            buffers["tilt"] = np.empty(np.shape(s))
        tilt = np.multiply(phi, coupling, out=buffers["tilt"])
        SITE_POTENTIAL.force_into(out, s, tilt)
        out *= rate
        tilt[:] = s  # the array is free again: the stabilisation's explicit part
        tilt *= rate * stabilisation
        out += tilt
        return out

    return terms
