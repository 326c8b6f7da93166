"""The model's sections: [space], [time], [field], [memory] and [sites] (docs/model.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bmf_fem.config.keys import key
from bmf_fem.config.section import Section
from bmf_fem.config.table import Table, show
from bmf_fem.errors import ConfigError
from bmf_fem.expressions import COORDINATES, VOCABULARY, Expression, parse_expression

STATE_NAMES = VOCABULARY
"""Names usable in field.reaction and memory.source."""
INITIAL_NAMES = COORDINATES
"""Names usable in initial conditions."""

DEGREES = (1, 2)
SCHEMES = ("sbdf1", "sbdf2")
SITE_MODES = ("continuum", "cells")
MAX_STEPS = 10**8  # time.t_end / time.dt: beyond this a run never ends (or overflows)

DIFFUSIVITY = "length^2/time"
RATE = "1/time"


def _expression(text: str, names: tuple[str, ...], where: str) -> Expression:
    return parse_expression(text, names, where)


@dataclass(frozen=True)
class SpaceConfig(Section):
    """[space]: the Lagrange degree of all fields."""

    HEADING = "[space]"

    degree: int = key(
        1,
        "integer",
        "Lagrange degree of every field (2 is interpolated to 1 in XDMF)",
        choices=DEGREES,
    )


@dataclass(frozen=True)
class TimeConfig(Section):
    """[time]: fixed step, end time and IMEX scheme."""

    HEADING = "[time]"

    dt: float = key(0.05, "real", "fixed time step", unit="time", above=0)
    t_end: float = key(
        40.0, "real", "end time; the run takes ceil(t_end / dt) steps", unit="time", at_least=0
    )
    scheme: str = key("sbdf1", "choice", "IMEX scheme: first or second order", choices=SCHEMES)

    @classmethod
    def check(cls, table: Table, values: dict[str, Any]) -> dict[str, Any]:
        dt, t_end = values["dt"], values["t_end"]
        steps = t_end / dt
        if not steps <= MAX_STEPS:
            raise ConfigError(
                f"time.t_end / time.dt = {t_end:g} / {dt:g} = {steps:.3g} steps is not valid: at"
                f" most {MAX_STEPS:.0e} steps are allowed (raise time.dt or lower time.t_end)"
            )
        return values


@dataclass(frozen=True)
class FieldConfig(Section):
    """[field]: the local field u (D_u, delta, gamma, R, sigma_u, u at t = 0)."""

    HEADING = "[field]"

    D: float = key(0.01, "real", "diffusivity D_u", unit=DIFFUSIVITY, at_least=0)
    decay: float = key(1.0, "real", "decay rate delta", unit=RATE, at_least=0)
    feedback: float = key(0.1, "real", "gamma: the memory's feedback on u", unit=RATE)
    reaction: Expression = key(
        _expression("0", STATE_NAMES, "field.reaction"),
        "expression",
        "reaction term R",
        names=STATE_NAMES,
    )
    noise: float = key(0.0, "real", "noise amplitude sigma_u (docs/model.md)", at_least=0)
    initial: Expression = key(
        _expression("0", INITIAL_NAMES, "field.initial"),
        "expression",
        "u at t = 0",
        names=INITIAL_NAMES,
    )


@dataclass(frozen=True)
class MemoryConfig(Section):
    """[memory]: the memory modes m_k (D_M, tau_k, w_k, f, scope threshold, m_k at t = 0).

    When ``weight`` is not given every mode has weight 1.
    """

    HEADING = "[memory]"

    D: float = key(
        0.0, "real", "diffusivity D_M (0: purely temporal memory)", unit=DIFFUSIVITY, at_least=0
    )
    tau: tuple[float, ...] = key(
        (20.0,), "reals", "time constant of each mode", unit="time", above=0, scalar_ok=True
    )
    weight: tuple[float, ...] = key(
        (1.0,), "reals", "weight w_k of each mode, as many as tau (default 1 each)", derived=True
    )
    source: Expression = key(
        _expression("u*abs(u)", STATE_NAMES, "memory.source"),
        "expression",
        "source f of the memory: negative tickles erode it",
        names=STATE_NAMES,
    )
    scope_threshold: float = key(
        0.05, "real", "scope is the measure of {M > scope_threshold}", at_least=0
    )
    initial: Expression = key(
        _expression("0", INITIAL_NAMES, "memory.initial"),
        "expression",
        "every m_k at t = 0",
        names=INITIAL_NAMES,
    )

    @property
    def modes(self) -> int:
        """The number of memory modes K."""
        return len(self.tau)

    @classmethod
    def check(cls, table: Table, values: dict[str, Any]) -> dict[str, Any]:
        tau = values["tau"]
        if not table.given("weight"):
            return {**values, "weight": (1.0,) * len(tau)}
        weight = table.real_list("weight", scalar_ok=True)
        if len(weight) != len(tau):
            raise ConfigError(
                f"memory.weight = {show(table.raw('weight'))} has {len(weight)} entries but"
                f" memory.tau = {show(table.raw('tau'))} has {len(tau)}; give one weight per"
                " memory mode"
            )
        return {**values, "weight": weight}


@dataclass(frozen=True)
class SitesConfig(Section):
    """[sites]: the bistable site field s (D_s, alpha, g, sigma_s, threshold, s at t = 0, S)."""

    HEADING = "[sites]"

    mode: str = key(
        "continuum",
        "choice",
        "continuum: s is a field like u; cells: one site per region",
        choices=SITE_MODES,
    )
    D: float = key(
        0.0, "real", "diffusivity D_s (fronts travel when > 0)", unit=DIFFUSIVITY, at_least=0
    )
    rate: float = key(1.0, "real", "alpha: the rate of the site dynamics", unit=RATE, at_least=0)
    coupling: float = key(1.0, "real", "g: the tilt is g * phi")
    noise: float = key(0.0, "real", "noise amplitude sigma_s", at_least=0)
    on: float = key(0.0, "real", "a site is expressed from the first time s > on")
    initial: Expression = key(
        _expression("-1", INITIAL_NAMES, "sites.initial"),
        "expression",
        "s at t = 0",
        names=INITIAL_NAMES,
    )
    stabilisation: float | str = key(
        "auto",
        "real",
        "S of the linearly stabilised cubic; auto: the smallest S stable at the run's dt",
        at_least=0,
        word="auto",
    )
    regions: str = key(
        "*", "string", "cells mode: glob over the mesh's cell region names", required=True
    )
