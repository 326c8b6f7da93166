"""Why a run diverged: every unknown watched before each step's solves, the cause named.

Before the solves of a step, :class:`RunawayWatch` takes the extremes of every unknown and
whether each equation's explicit terms and the inputs' forcing are finite, in one
reduction of a few numbers. A run stops when something is not finite or an unknown's
size passes :data:`RUNAWAY_BOUND`, with a message that names what drove it and what to
change, in this order:

- a user expression that is not finite on a finite state (``field.reaction = "u/0"``,
  a memory source with ``log(u)`` at u = 0), with the values where it fails;
- an input whose forcing is not finite;
- an initial condition that is not finite;
- the memory-feedback loop: for a uniform state the memory settles at
  ``M = W f(u)`` with ``W = sum_k w_k tau_k``, and u then grows wherever
  ``-delta u + gamma W f(u) + R > 0``. With ``f = u|u|`` that is every u above
  ``u_c = delta / (gamma W)``: a field pushed past u_c runs away, whatever dt.
  :func:`memory_loop` finds u_c (and a high state where the loop locks instead, for a
  saturating source) for the configuration's own f and R;
- the site step beyond its stable range (``sites.stabilisation``, bmf_fem.sites);
- growth that alternates in sign from step to step: the explicit terms are unstable at
  this dt;
- otherwise the unknown that grew, by how much per step.

A solve that fails is explained the same way when the watch saw a runaway before it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bmf_fem.parallel import elementwise_max
from bmf_fem.potential import SITE_POTENTIAL

# Sizes beyond this are a runaway in the non-dimensional model (its states are of order
# one; the site cubic of 1e12 is 1e36): the run stops instead of waiting for infinity.
RUNAWAY_BOUND = 1e12

# Steps of extremes kept to describe the growth before a failure.
HISTORY = 12

# A saturating memory source that turns the runaway into a high state the loop locks in.
SATURATING_SOURCE = "u*abs(u)/(1 + u*u)"


class DivergenceError(RuntimeError):
    """A run that cannot go on; the message names the cause and a remedy."""


@dataclass(frozen=True)
class MemoryLoop:
    """The memory-feedback loop of a uniform state: ``u' = -delta u + gamma W f(u) + R``.

    ``threshold``: u above which it grows without bound (None: it does not), with
    ``negative_threshold`` the same below zero; ``locks_at``: the high state it settles
    in instead when the source saturates (None: there is none).
    """

    weight: float  # W = sum_k w_k tau_k
    threshold: float | None
    negative_threshold: float | None
    locks_at: float | None


def memory_loop(
    config, grid: np.ndarray | None = None, feedback: bool = True, reaction: bool = True
) -> MemoryLoop:
    """Find where the uniform u-memory balance of ``config`` turns to growth for good.

    ``g(u) = -delta u + gamma W f(u) + R(u, M = W f(u), phi = u + M, s = -1)`` at x = 0,
    t = 0, on a logarithmic grid of u up to 1e8 (each sign): a runaway where g stays
    positive (negative, below zero) to the end of the grid, from the last sign change on.
    ``feedback`` and ``reaction`` False leave out gamma W f(u) or R.
    """
    memory = config.memory
    weight = float(np.dot(memory.weight, memory.tau))
    if grid is None:
        grid = np.logspace(-6, 8, 1401)
    thresholds, locks = [], None
    parts = (feedback, reaction)
    for sign in (1.0, -1.0):
        u = sign * grid
        balance = _uniform_balance(config, u, weight, feedback, reaction)
        growing = sign * balance > 0.0  # |u| grows
        if not np.all(np.isfinite(balance)) or not growing[-1]:
            thresholds.append(None)
            if sign > 0 and np.any(growing):
                last = np.flatnonzero(growing)[-1]  # the loop locks where growth stops
                locks = _root(config, weight, grid[last], grid[last + 1], 1.0, parts)
            continue
        falling = np.flatnonzero(~growing)
        if falling.size == 0:
            thresholds.append(sign * grid[0])
            continue
        start = falling[-1]
        thresholds.append(sign * _root(config, weight, grid[start], grid[start + 1], sign, parts))
    return MemoryLoop(weight, thresholds[0], thresholds[1], locks)


def _uniform_balance(
    config, u: np.ndarray, weight: float, feedback: bool = True, reaction: bool = True
) -> np.ndarray:
    """``-delta u + gamma W f(u) + R`` for uniform states u (NaN where not finite)."""
    field = config.field
    with np.errstate(all="ignore"):
        state = {"u": u, "s": -1.0, "x": 0.0, "y": 0.0, "z": 0.0, "t": 0.0}
        state["M"] = u * 0.0
        state["phi"] = u
        source = np.broadcast_to(config.memory.source.to_numpy(state), u.shape)
        memory = weight * source
        state.update(M=memory, phi=u + memory)
        balance = -field.decay * u + (field.feedback * memory if feedback else 0.0)
        if reaction and field.reaction is not None:
            balance = balance + field.reaction.to_numpy(state)
    return np.where(np.isfinite(balance), balance, np.nan)


def _root(
    config, weight: float, low: float, high: float, sign: float, parts: tuple[bool, bool]
) -> float:
    """Bisect the sign change of the balance between |u| = low and high."""
    for _ in range(60):
        middle = math.sqrt(low * high)
        value = sign * _uniform_balance(config, np.array([sign * middle]), weight, *parts)[0]
        below = sign * _uniform_balance(config, np.array([sign * low]), weight, *parts)[0]
        if (value > 0.0) == (below > 0.0):
            low = middle
        else:
            high = middle
    return math.sqrt(low * high)


class RunawayWatch:
    """The extremes of every unknown before each step, and the diagnosis of a failure."""

    def __init__(self, config, model, sites, stabilisation: float):
        self.config = config
        self.model = model
        self.sites = sites
        self.comm = model.comm
        self.loop = memory_loop(config)
        # Which part runs away on its own: the memory feedback, the reaction (or only both)
        self.drivers = [
            part
            for part, alone in (
                ("feedback", memory_loop(config, reaction=False)),
                ("reaction", memory_loop(config, feedback=False)),
            )
            if alone.threshold is not None or alone.negative_threshold is not None
        ]
        self.stabilisation = stabilisation
        self.names = [function.name for function in model.unknowns]
        if sites.mode == "cells":
            self.names.append("s")
        self.history: deque[tuple[float, np.ndarray]] = deque(maxlen=HISTORY)
        self.loop_crossed: float | None = None  # when u first left the loop's safe range
        self.largest = np.zeros(len(self.names))

    def state_arrays(self) -> list[np.ndarray]:
        """The owned values of every unknown (cells-mode sites: all of them)."""
        owned = self.model.V.dofmap.index_map.size_local
        arrays = [function.x.array[:owned] for function in self.model.unknowns]
        if self.sites.mode == "cells":
            arrays.append(self.sites.s)
        return arrays

    def before_solves(
        self,
        t: float,
        explicit: Sequence[np.ndarray | float] = (),
        forcing: np.ndarray | None = None,
    ) -> None:
        """Check the state at t and the terms of the coming step (collective)."""
        state_arrays = self.state_arrays()
        count = len(self.names)
        local = np.empty(2 * count + len(explicit) + 1)
        for index, values in enumerate(state_arrays):
            local[2 * index] = _finite_or_inf(values.max() if values.size else -np.inf)
            local[2 * index + 1] = _finite_or_inf(-values.min() if values.size else -np.inf)
        for index, terms in enumerate(explicit):
            local[2 * count + index] = 0.0 if np.isfinite(np.sum(terms)) else np.inf
        local[-1] = 0.0 if forcing is None or np.isfinite(forcing.sum()) else np.inf
        extremes = elementwise_max(self.comm, local)
        highs, lows = extremes[0 : 2 * count : 2], -extremes[1 : 2 * count : 2]
        sizes = np.maximum(np.abs(highs), np.abs(lows))
        self.history.append((t, np.stack([highs, lows])))
        self.largest = np.maximum(self.largest, sizes)
        self._track_loop(t, highs[0], lows[0])
        broken_terms = [
            self.names[i] for i in range(len(explicit)) if extremes[2 * count + i] > 0.0
        ]
        forcing_broken = extremes[-1] > 0.0
        beyond = sizes > RUNAWAY_BOUND
        if broken_terms or forcing_broken or np.any(beyond):
            raise DivergenceError(self.diagnose(t, broken_terms, forcing_broken, beyond))

    def explain(self, t: float, failure: str) -> str:
        """A failed solve, explained by a runaway the watch saw before it if there was one."""
        if self._loop_running():
            return self._loop_message(f"at t = {t:.6g}")
        return failure

    def _loop_running(self) -> bool:
        """Whether u passed the loop's threshold, is beyond it now, and the memory keeps
        growing (a localised u above it may wane by diffusion: not a runaway)."""
        if self.loop_crossed is None or len(self.history) < 2:
            return False
        latest, first = self.history[-1][1], self.history[0][1]
        high, low = latest[:, 0]
        loop = self.loop
        beyond = (loop.threshold is not None and high > loop.threshold) or (
            loop.negative_threshold is not None and low < loop.negative_threshold
        )
        modes = [i for i, name in enumerate(self.names) if name.startswith("m_")]
        memory_growing = not modes or np.abs(latest[:, modes]).max() > np.abs(first[:, modes]).max()
        return beyond and memory_growing

    def _track_loop(self, t: float, high: float, low: float) -> None:
        if self.loop_crossed is not None:
            return
        loop = self.loop
        if (loop.threshold is not None and high > loop.threshold) or (
            loop.negative_threshold is not None and low < loop.negative_threshold
        ):
            self.loop_crossed = t

    def diagnose(
        self,
        t: float,
        broken_terms: Sequence[str] = (),
        forcing_broken: bool = False,
        beyond: np.ndarray | None = None,
    ) -> str:
        """What drove the run to fail at t, and what to change."""
        where = f"at t = {t:.6g}"
        if broken_terms and not (beyond is not None and np.any(beyond)):
            return self._expression_message(broken_terms[0], where)
        if forcing_broken:
            return (
                f"the inputs' forcing is not finite {where}: check the amplitude and width of "
                "each [[input]] (a pulse deposits amplitude / width per unit time)"
            )
        if t == 0.0:
            return (
                "the initial state is not finite or beyond 1e12: check field.initial, "
                "memory.initial and sites.initial"
            )
        if self._loop_running():
            return self._loop_message(where)
        upstream = [i for i, name in enumerate(self.names) if name != "s"]
        oscillating, factor, name = self._growth(upstream[:1])  # u, where it starts
        if not (oscillating and factor > 1.0):
            oscillating, factor, name = self._growth(upstream)
        if oscillating and factor > 1.0:
            dt = self.config.time.dt
            return (
                f"{name} grew by a factor {factor:.3g} per step {where}, changing sign from "
                f"step to step: the explicit terms (field.reaction, field.feedback, "
                f"memory.source) are unstable at time.dt = {dt:g}; reduce time.dt (below "
                f"{dt / (factor + 1.0):.3g})"
            )
        if beyond is not None and "s" in self.names and beyond[self.names.index("s")]:
            return self._site_message(where)
        oscillating, factor, name = self._growth(range(len(self.names)))
        return (
            f"{name} grew without bound {where} (by a factor {factor:.3g} per step over the "
            f"last steps): reduce time.dt to see whether the growth is the model's or the "
            "step's, and check field.reaction, field.feedback and memory.source for "
            "runaway growth"
        )

    def _expression_message(self, name: str, where: str) -> str:
        """A user expression that is not finite on a finite state."""
        config = self.config
        if name == "u":
            key, expression = "field.reaction", config.field.reaction
        elif name.startswith("m_"):
            key, expression = "memory.source", config.memory.source
        else:
            key, expression = "sites", None
        if expression is None:
            return f"the explicit terms of {name} are not finite {where}"
        state = self.model.state(0.0)
        with np.errstate(all="ignore"):
            values = np.broadcast_to(expression.to_numpy(state), state["u"].shape)
        bad = np.flatnonzero(~np.isfinite(values))
        at = ""
        if bad.size:
            i = bad[0]
            u, memory, s = state["u"][i], state["M"][i], state["s"][i]
            at = f" (where u = {u:.6g}, M = {memory:.6g}, s = {s:.6g})"
        return (
            f'{key} = "{expression.text}" is not finite {where}{at}: a division by zero, '
            "a log or sqrt of a negative number, or an overflow; write it so that it stays "
            "finite for every state the run reaches (e.g. divide by (M + 1e-6))"
        )

    def _loop_message(self, where: str) -> str:
        config, loop = self.config, self.loop
        field, memory = config.field, config.memory
        threshold = loop.threshold if loop.threshold is not None else loop.negative_threshold
        passed = (
            f"|u| passed {abs(threshold):.4g} at t = {self.loop_crossed:.6g} and reached "
            f"{self.largest[0]:.4g}. A smaller time.dt or more sites.stabilisation will not "
            "help: the growth is the model's."
        )
        loop_text = (
            f"the memory-feedback loop (memory settles at M = W f(u), W = sum w_k tau_k = "
            f"{loop.weight:.4g}, and field.feedback = {field.feedback:g} feeds gamma W f(u) "
            f'back into u, for memory.source = "{memory.source.text}")'
        )
        reaction_text = f'field.reaction = "{field.reaction.text}"' if field.reaction else ""
        if self.drivers == ["reaction"] or field.feedback == 0.0:
            driver, remedy = reaction_text, "bound the reaction (e.g. divide it by (1 + u*u))"
        elif self.drivers == ["feedback"] or not reaction_text:
            driver = loop_text
            remedy = f'saturate the source (memory.source = "{SATURATING_SOURCE}")'
        else:
            driver = f"{reaction_text} with {loop_text}"
            remedy = (
                f"bound the reaction and saturate the source (memory.source = "
                f'"{SATURATING_SOURCE}")'
            )
        return (
            f"u ran away {where}: {driver} outgrows field.decay = {field.decay:g} once a "
            f"uniform |u| passes {abs(threshold):.4g}; {passed} To lock into a high state "
            f"instead, {remedy}; or keep u below the threshold (smaller inputs, "
            "field.feedback or memory.tau)"
        )

    def _site_message(self, where: str) -> str:
        config = self.config
        sites = config.sites
        scheme = "sbdf1" if self.sites.mode == "cells" else config.time.scheme
        extent = SITE_POTENTIAL.stable_extent(
            sites.rate, config.time.dt, self.stabilisation, scheme
        )
        first_order = scheme == "sbdf1"
        factor, slope, offset = ("2", "1.5", "0.5") if first_order else ("4/3", "2.25", "0.75")
        return (
            f"field s is not finite {where}: the site cubic diverged: its stabilised step is "
            f"stable while alpha dt (3 s^2 - 1) <= {factor} (1 + alpha S dt), here for "
            f"|s| <= {extent:.3g}, and a strong tilt g phi drives |s| beyond that; raise "
            f"sites.stabilisation (S = {self.stabilisation:.3g} now; S >= {slope} s^2 - {offset} "
            "covers any dt) or reduce time.dt"
        )

    def _growth(self, among: Sequence[int]) -> tuple[bool, float, str]:
        """Whether the fastest-growing of the unknowns ``among`` alternates in sign, its
        growth per step over the kept history, and its name."""
        among = list(among)
        if len(self.history) < 3:
            return False, float("inf"), self.names[among[0]]
        stacked = np.array([extremes for _, extremes in self.history])  # (steps, 2, unknowns)
        sizes = np.abs(stacked).max(axis=1)
        with np.errstate(all="ignore"):
            growth = (sizes[-1] / np.maximum(sizes[0], 1e-300)) ** (1.0 / (len(sizes) - 1))
        growth = np.where(np.isfinite(growth), growth, np.inf)
        index = among[int(np.argmax(growth[among]))]
        dominant = np.abs(stacked[:, 0, index]) >= np.abs(stacked[:, 1, index])
        flips = np.count_nonzero(dominant[1:] != dominant[:-1])
        return flips >= len(dominant) - 2, float(growth[index]), self.names[index]


def _finite_or_inf(value: float) -> float:
    return float(value) if np.isfinite(value) else np.inf
