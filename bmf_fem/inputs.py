"""Tickling inputs: spatial profiles times pulse trains that deposit an exact amount.

A pulse of amplitude ``a`` and width ``w`` is a rate ``a / w`` during ``[t_j, t_j + w)``.
A step from t0 to t1 receives the exact integral of the rate over the step, so the total
deposited at the profile's peak is ``a`` per pulse whatever dt is (docs/model.md). A
moving profile is taken at the middle of the step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bmf_fem.profiles import PROFILES
from bmf_fem.regions import RegionSelector, require_nonempty


@dataclass(frozen=True)
class PulseTrain:
    """``count`` pulses of ``amplitude`` each, ``period`` apart from ``start``."""

    amplitude: float
    start: float
    period: float
    count: int
    width: float

    def deposit(self, t0: float, t1: float) -> float:
        """The amount deposited (at a profile value of 1) during ``[t0, t1)``."""
        first = max(0, int(np.floor((t0 - self.start - self.width) / self.period)))
        last = min(self.count - 1, int(np.floor((t1 - self.start) / self.period)))
        overlap = 0.0
        for pulse in range(first, last + 1):
            on = self.start + pulse * self.period
            overlap += max(0.0, min(t1, on + self.width) - max(t0, on))
        return self.amplitude * overlap / self.width

    @property
    def end(self) -> float:
        return self.start + (self.count - 1) * self.period + self.width


@dataclass
class Input:
    """One ``[[input]]``: a nodal spatial profile (or one that moves) and its pulse train."""

    profile: np.ndarray
    train: PulseTrain
    moving: Callable[[float], np.ndarray] | None = None

    def at(self, t: float) -> np.ndarray:
        """The nodal profile at time `t`."""
        return self.moving(t) if self.moving is not None else self.profile


def build_inputs(configs, selector: RegionSelector, comm) -> list[Input]:
    """Nodal profiles of every ``[[input]]`` table, validated against the mesh."""
    inputs = []
    for index, config in enumerate(configs):
        where = f"input.{index}"
        values = PROFILES[config.profile].values(config, selector, where)
        moving = values if callable(values) else None
        profile = moving(config.start) if moving is not None else values
        require_nonempty(comm, np.count_nonzero(profile > 0.5), where)
        train = PulseTrain(
            config.amplitude, config.start, config.period, config.count, config.width
        )
        inputs.append(Input(profile, train, moving))
    return inputs


def input_rate(inputs: list[Input], t0: float, t1: float, out: np.ndarray) -> bool:
    """Write the mean input rate over ``[t0, t1)`` into ``out``; False when it is zero."""
    out[:] = 0.0
    active = False
    for item in inputs:
        amount = item.train.deposit(t0, t1)
        if amount != 0.0:
            out += (amount / (t1 - t0)) * item.at(0.5 * (t0 + t1))
            active = True
    return active
