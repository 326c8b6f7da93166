"""What a perturbation kind is: where and when it acts, the keys only it reads, and how
it acts on a run at the start of a step (`Perturbation.act`)."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import numpy as np


class Run(Protocol):
    """What a kind may act on: the run's model, stepper and sites, and the step's noise."""

    model: Any
    stepper: Any
    sites: Any
    state: dict[str, Any]  # each kind's memory between steps, by kind name

    def add_noise(self, mask: np.ndarray, sigma: float) -> None: ...

    def sites_reset(self, touched: np.ndarray) -> None: ...


class Perturbation:
    """One ``[[perturbation]]`` on the mesh: its window [start, stop) and its region.

    A kind subclasses it with its ``name``, what its region selects (``acts_on``: "dofs"
    or "cells"), the dataclass of its own keys (``keys``, declared with
    `bmf_fem.config.keys.key`) and ``act``, which applies every perturbation of the kind.
    """

    name: ClassVar[str]
    acts_on: ClassVar[str]
    keys: ClassVar[type]
    doc: ClassVar[str]

    def __init__(self, config: Any) -> None:
        self.config = config
        self.start = config.start
        self.stop = config.stop
        self.dof_mask: np.ndarray | None = None
        self.cells: np.ndarray | None = None
        self.applied = False  # a one-off action done (kept by checkpoints)

    def active(self, t: float, dt: float) -> bool:
        """Whether the step starting at ``t`` lies in [start, stop)."""
        eps = 1e-9 * dt
        return self.start - eps <= t < self.stop - eps

    @classmethod
    def act(cls, items: list[Perturbation], t: float, dt: float, run: Run) -> None:
        """Apply the kind's perturbations at the start of the step [t, t + dt)."""
        raise NotImplementedError
